/* dataset.h — the prepared dataset's layout (engine-internal): sessions as one flat item/time
 * array with offsets, item text as offsets into one string pool, and the preparation log. */
#ifndef SPRINT_DATA_DATASET_H
#define SPRINT_DATA_DATASET_H

#include "raw.h"
#include "sprint.h"

struct sp_dataset {
  /* sessions */
  int64_t n_sessions;
  int64_t *offset;    /* (n_sessions + 1) into items/times */
  int32_t *items;     /* (offset[n]) */
  int64_t *times;     /* (offset[n]) */
  uint8_t *split;     /* (n_sessions) sp_split */
  int64_t *key;       /* (n_sessions) pool offset of the session key */
  int64_t *label_off; /* (n_sessions + 1) into labels, or NULL */
  int32_t *labels;
  /* items 1..n_items (index 0 is padding and has empty text) */
  int32_t n_items;
  int64_t *item_key, *item_title, *item_brand; /* (n_items + 1) pool offsets */
  int64_t *cat_off;                            /* (n_items + 2) into cats */
  int64_t *cats;                               /* pool offsets */
  /* hidden intents of generated data */
  int32_t n_label_names;
  int64_t *label_name; /* (n_label_names) pool offsets */
  /* strings */
  char *pool;
  int64_t pool_len;
  /* what preparation did */
  int n_report;
  int64_t *report; /* (n_report) pool offsets of log lines */
  sp_dataset_stats stats;
  /* identity from the cache file: the dataset's name and the hash of what it was prepared
   * from (NULL / 0 for a dataset prepared in this process) */
  const char *name;
  uint64_t settings_hash;
  void *blob; /* when loaded from a cache file: every array above points into it */
};

/* Prepares a dataset from raw events; the raw store is consumed (freed) either way. */
int sp_dataset_from_raw(sp_dataset **out, sp_raw *raw, const sp_prep_config *cfg);
/* The paper datasets from ../shared/datasets (load_shared.c); dir is the dataset folder. */
int sp_load_beauty_shared(sp_raw *raw, const char *dir);
int sp_load_yelp_shared(sp_raw *raw, const char *dir);

/* File loaders for the data people bring (loaders.c): fills raw if `loader` names one of them
 * and sets *found; otherwise leaves *found 0. */
int sp_dataset_prepare_files(sp_raw *raw, const char *loader, const char *const *paths, int n_paths,
                             const sp_prep_config *cfg, int *found);

/* Fills d->stats from the sessions and splits. */
void sp_dataset_compute_stats(sp_dataset *d);

#endif
