/* loaders_table.c — the file loaders by name, for sp_dataset_prepare: each takes the events
 * file and, optionally, the item-text file (loaders.h documents the formats). */
#include <string.h>

#include "dataset.h"
#include "internal.h"
#include "loaders.h"

typedef int (*file_loader)(sp_raw *r, const char *a, const char *b, const sp_load_opts *o);

static const struct {
  const char *name;
  file_loader load;
} file_loaders[] = {
    {"amazon2014", sp_load_amazon2014}, {"amazon-jsonl", sp_load_amazon_jsonl},
    {"yelp-open", sp_load_yelp},        {"recbole", sp_load_recbole},
    {"plain", sp_load_plain},
};

int sp_dataset_prepare_files(sp_raw *raw, const char *loader, const char *const *paths, int n_paths,
                             const sp_prep_config *cfg, int *found) {
  *found = 0;
  for (size_t k = 0; k < sizeof file_loaders / sizeof file_loaders[0]; k++) {
    if (strcmp(loader, file_loaders[k].name) != 0) continue;
    *found = 1;
    if (n_paths < 1 || n_paths > 2)
      return SP_FAIL(SP_EINVAL,
                     "loader %s takes the events file and optionally the item file, got %d paths",
                     loader, n_paths);
    sp_load_opts o = {.skip_bad_lines = cfg ? cfg->skip_bad_lines : 0};
    return file_loaders[k].load(raw, paths[0], n_paths > 1 ? paths[1] : NULL, &o);
  }
  return SP_OK;
}
