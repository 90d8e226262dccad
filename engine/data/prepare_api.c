/* prepare_api.c — sp_dataset_prepare: picks the loader by name, reads the raw files into an
 * sp_raw and runs the preparation pipeline (prepare.c). New loaders are one table row. */
#include <string.h>

#include "dataset.h"
#include "internal.h"

typedef int (*folder_loader)(sp_raw *raw, const char *dir);

static const struct {
  const char *name;
  folder_loader load;
} folder_loaders[] = {
    {"beauty-shared", sp_load_beauty_shared},
    {"yelp-shared", sp_load_yelp_shared},
};

int sp_dataset_prepare(sp_dataset **out, const char *loader, const char *const *paths, int n_paths,
                       const sp_prep_config *cfg) {
  if (!out || !loader || (n_paths > 0 && !paths))
    return SP_FAIL(SP_EINVAL, "sp_dataset_prepare: NULL argument");
  *out = NULL;
  for (int i = 0; i < n_paths; i++)
    if (!paths[i]) return SP_FAIL(SP_EINVAL, "sp_dataset_prepare: path %d is NULL", i);
  sp_raw *raw;
  SP_TRY(sp_raw_new(&raw));
  int rc = SP_ESTATE, found = 0;
  for (size_t k = 0; k < sizeof folder_loaders / sizeof folder_loaders[0]; k++)
    if (strcmp(loader, folder_loaders[k].name) == 0) {
      found = 1;
      if (n_paths != 1) {
        rc = SP_FAIL(SP_EINVAL, "loader %s takes one path (the dataset folder), got %d", loader,
                     n_paths);
      } else {
        rc = folder_loaders[k].load(raw, paths[0]);
      }
    }
  if (!found) rc = sp_dataset_prepare_files(raw, loader, paths, n_paths, cfg, &found);
  if (!found) rc = SP_FAIL(SP_EINVAL, "unknown loader '%s'", loader);
  if (rc != SP_OK) {
    sp_raw_free(raw);
    return rc;
  }
  return sp_dataset_from_raw(out, raw, cfg);
}
