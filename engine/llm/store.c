/* store.c — the LLM cache and ledger in one SQLite file (WAL, synchronous=NORMAL: a killed
 * process loses at most the transaction it was in, never half of one). The cache maps a
 * request's hash to its raw answer; the ledger keeps one row per call for reports and
 * budgets. Statements are prepared once; a lookup is one indexed SELECT. */
#include "internal.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct sp_llm_store {
  sqlite3 *db;
  int mode;
  sqlite3_stmt *get, *put_entry, *put_row, *totals, *stages, *count, *begin, *commit, *rollback;
  char *stage_name; /* the last name sp_llm_store_stage returned */
  char path[256];
};

static const char *schema =
    "CREATE TABLE IF NOT EXISTS cache ("
    "  key TEXT PRIMARY KEY, request TEXT NOT NULL, response TEXT NOT NULL,"
    "  provider TEXT, model TEXT, prompt_tokens INTEGER, completion_tokens INTEGER,"
    "  latency_ms REAL, attempts INTEGER, errors TEXT, created REAL);"
    "CREATE TABLE IF NOT EXISTS ledger ("
    "  id INTEGER PRIMARY KEY, created REAL, run TEXT, stage TEXT, session TEXT, try INTEGER,"
    "  key TEXT, provider TEXT, model TEXT, cached INTEGER, ok INTEGER,"
    "  prompt_tokens INTEGER, completion_tokens INTEGER, cost REAL, latency_ms REAL,"
    "  attempts INTEGER, error TEXT);"
    "CREATE INDEX IF NOT EXISTS ledger_run_stage ON ledger (run, stage);"
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT);"
    "INSERT OR IGNORE INTO meta VALUES ('schema', '1');";

static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int db_fail(sp_llm_store *s, const char *what, int status, const char *file, int line) {
  return sp_error_set(status, file, line, "%s: %s (%s)", what, sqlite3_errmsg(s->db), s->path);
}
#define DB_FAIL(s, what) db_fail((s), (what), SP_EIO, __FILE__, __LINE__)

void sp_llm_store_close(sp_llm_store *s) {
  if (!s) return;
  sqlite3_stmt *all[] = {s->get,   s->put_entry, s->put_row, s->totals,  s->stages,
                         s->count, s->begin,     s->commit,  s->rollback};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) sqlite3_finalize(all[i]);
  if (s->db) sqlite3_close(s->db);
  free(s->stage_name);
  free(s);
}

int sp_llm_store_open(sp_llm_store **out, const char *path, int cache_mode) {
  if (!out || !path || !*path) return SP_FAIL(SP_EINVAL, "sp_llm_store_open: NULL output or path");
  *out = NULL;
  if (cache_mode < SP_LLM_CACHE_OFF || cache_mode > SP_LLM_CACHE_RW)
    return SP_FAIL(SP_EINVAL,
                   "sp_llm_store_open: cache mode must be 0 (off), 1 (read) or 2 "
                   "(read-write), got %d",
                   cache_mode);
  sp_llm_store *s = calloc(1, sizeof *s);
  if (!s) return SP_FAIL(SP_ENOMEM, "sp_llm_store_open: out of memory");
  s->mode = cache_mode;
  snprintf(s->path, sizeof s->path, "%s", path);
  int rc = sqlite3_open_v2(path, &s->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK) {
    int st = s->db ? DB_FAIL(s, "sp_llm_store_open: cannot open")
                   : SP_FAIL(SP_ENOMEM, "sp_llm_store_open: out of memory");
    sp_llm_store_close(s);
    return st;
  }
  sqlite3_busy_timeout(s->db, 10000); /* another process writing the same cache */
  char *err = NULL;
  rc = sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL, &err);
  if (rc == SQLITE_OK) rc = sqlite3_exec(s->db, schema, NULL, NULL, &err);
  if (rc != SQLITE_OK) {
    int st = SP_FAIL(SP_EIO, "sp_llm_store_open: %s is not a usable cache: %s", path,
                     err ? err : sqlite3_errmsg(s->db));
    sqlite3_free(err);
    sp_llm_store_close(s);
    return st;
  }
  struct {
    sqlite3_stmt **st;
    const char *sql;
  } stmts[] = {
      {&s->get,
       "SELECT request, response, provider, model, prompt_tokens, completion_tokens, "
       "latency_ms, attempts, errors, created FROM cache WHERE key = ?1"},
      {&s->put_entry,
       "INSERT OR REPLACE INTO cache (key, request, response, provider, model, prompt_tokens, "
       "completion_tokens, latency_ms, attempts, errors, created) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"},
      {&s->put_row,
       "INSERT INTO ledger (created, run, stage, session, try, key, provider, model, cached, ok, "
       "prompt_tokens, completion_tokens, cost, latency_ms, attempts, error) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"},
      {&s->totals,
       /* tokens, cost and attempts are paid ones: a cache hit's row keeps the tokens its
        * answer once cost, summed apart as cached_tokens */
       "SELECT count(*), coalesce(sum(cached), 0), coalesce(sum(ok = 0), 0), "
       "coalesce(sum(CASE WHEN cached THEN 0 ELSE prompt_tokens END), 0), "
       "coalesce(sum(CASE WHEN cached THEN 0 ELSE completion_tokens END), 0), "
       "coalesce(sum(CASE WHEN cached THEN 0 ELSE cost END), 0), coalesce(sum(latency_ms), 0), "
       "coalesce(sum(CASE WHEN cached THEN 0 ELSE attempts END), 0), "
       "coalesce(sum(CASE WHEN cached THEN prompt_tokens + completion_tokens ELSE 0 END), 0) "
       "FROM ledger "
       "WHERE (?1 = '' OR run = ?1) AND (?2 = '' OR stage = ?2) AND (?3 = '' OR provider = ?3)"},
      {&s->stages,
       "SELECT DISTINCT stage FROM ledger WHERE (?1 = '' OR run = ?1) ORDER BY stage "
       "LIMIT 1 OFFSET ?2"},
      {&s->count, "SELECT count(*) FROM cache"},
      {&s->begin, "BEGIN IMMEDIATE"},
      {&s->commit, "COMMIT"},
      {&s->rollback, "ROLLBACK"},
  };
  for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
    if (sqlite3_prepare_v2(s->db, stmts[i].sql, -1, stmts[i].st, NULL) != SQLITE_OK) {
      int st = DB_FAIL(s, "sp_llm_store_open: cannot prepare a statement");
      sp_llm_store_close(s);
      return st;
    }
  }
  *out = s;
  return SP_OK;
}

int sp_llm_store_cache_mode(const sp_llm_store *s) {
  return s ? s->mode : SP_LLM_CACHE_OFF;
}

static const char *col_text(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return t ? (const char *)t : "";
}

int sp_llm_store_get(sp_llm_store *s, int *found, sp_llm_entry *out, const char *key) {
  if (!s || !found || !out || !key) return SP_FAIL(SP_EINVAL, "sp_llm_store_get: NULL argument");
  *found = 0;
  memset(out, 0, sizeof *out);
  if (s->mode == SP_LLM_CACHE_OFF) return SP_OK;
  sqlite3_stmt *st = s->get;
  sqlite3_reset(st); /* the previous hit's strings die here, as documented */
  sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) return SP_OK;
  if (rc != SQLITE_ROW) {
    int status = DB_FAIL(s, "sp_llm_store_get");
    sqlite3_reset(st);
    return status;
  }
  *found = 1;
  out->key = key;
  out->request = col_text(st, 0);
  out->response = col_text(st, 1);
  out->provider = col_text(st, 2);
  out->model = col_text(st, 3);
  out->prompt_tokens = sqlite3_column_int64(st, 4);
  out->completion_tokens = sqlite3_column_int64(st, 5);
  out->latency_ms = sqlite3_column_double(st, 6);
  out->attempts = sqlite3_column_int(st, 7);
  out->errors = col_text(st, 8);
  out->created = sqlite3_column_double(st, 9);
  return SP_OK;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v) {
  sqlite3_bind_text(st, i, v ? v : "", -1, SQLITE_STATIC);
}

static int step_done(sp_llm_store *s, sqlite3_stmt *st, const char *what) {
  int rc = sqlite3_step(st);
  int status = rc == SQLITE_DONE ? SP_OK : DB_FAIL(s, what);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return status;
}

static int put_row(sp_llm_store *s, const sp_llm_ledger_row *row, double now) {
  sqlite3_stmt *st = s->put_row;
  sqlite3_bind_double(st, 1, now);
  bind_text(st, 2, row->run);
  bind_text(st, 3, row->stage);
  bind_text(st, 4, row->session);
  sqlite3_bind_int(st, 5, row->try_no);
  bind_text(st, 6, row->key);
  bind_text(st, 7, row->provider);
  bind_text(st, 8, row->model);
  sqlite3_bind_int(st, 9, row->cached ? 1 : 0);
  sqlite3_bind_int(st, 10, row->ok ? 1 : 0);
  sqlite3_bind_int64(st, 11, row->prompt_tokens);
  sqlite3_bind_int64(st, 12, row->completion_tokens);
  sqlite3_bind_double(st, 13, row->cost);
  sqlite3_bind_double(st, 14, row->latency_ms);
  sqlite3_bind_int(st, 15, row->attempts);
  bind_text(st, 16, row->error);
  return step_done(s, st, "sp_llm_store_put: ledger row");
}

/* Ends the transaction: COMMIT after success, else ROLLBACK keeping the first cause. */
static int end_tx(sp_llm_store *s, int status) {
  if (status == SP_OK) status = step_done(s, s->commit, "sp_llm_store_put: commit");
  if (status != SP_OK) {
    char saved[1024];
    snprintf(saved, sizeof saved, "%s", sp_last_error());
    sqlite3_step(s->rollback);
    sqlite3_reset(s->rollback);
    SP_FAIL(status, "%s", saved); /* keep the first cause, not the rollback's */
  }
  return status;
}

int sp_llm_store_put_rows(sp_llm_store *s, const sp_llm_ledger_row *rows, int n) {
  if (!s || (!rows && n > 0) || n < 0)
    return SP_FAIL(SP_EINVAL, "sp_llm_store_put_rows: bad argument");
  if (n == 0) return SP_OK;
  sqlite3_reset(s->get);
  int status = step_done(s, s->begin, "sp_llm_store_put_rows: begin");
  if (status != SP_OK) return status;
  double now = wall_now();
  for (int i = 0; i < n && status == SP_OK; i++) status = put_row(s, &rows[i], now);
  return end_tx(s, status);
}

int sp_llm_store_put(sp_llm_store *s, const sp_llm_entry *e, const sp_llm_ledger_row *row) {
  if (!s) return SP_FAIL(SP_EINVAL, "sp_llm_store_put: NULL store");
  if (e && (!e->key || !*e->key || !e->request || !e->response))
    return SP_FAIL(SP_EINVAL, "sp_llm_store_put: an entry needs key, request and response");
  if (s->mode != SP_LLM_CACHE_RW) e = NULL;
  if (!e && !row) return SP_OK;
  sqlite3_reset(s->get); /* a pending read would hold the lock */
  int status = step_done(s, s->begin, "sp_llm_store_put: begin");
  if (status != SP_OK) return status;
  double now = wall_now();
  if (e) {
    sqlite3_stmt *st = s->put_entry;
    bind_text(st, 1, e->key);
    bind_text(st, 2, e->request);
    bind_text(st, 3, e->response);
    bind_text(st, 4, e->provider);
    bind_text(st, 5, e->model);
    sqlite3_bind_int64(st, 6, e->prompt_tokens);
    sqlite3_bind_int64(st, 7, e->completion_tokens);
    sqlite3_bind_double(st, 8, e->latency_ms);
    sqlite3_bind_int(st, 9, e->attempts);
    bind_text(st, 10, e->errors);
    sqlite3_bind_double(st, 11, e->created > 0 ? e->created : now);
    status = step_done(s, st, "sp_llm_store_put: cache entry");
  }
  if (status == SP_OK && row) status = put_row(s, row, now);
  return end_tx(s, status);
}

int sp_llm_store_totals(sp_llm_store *s, sp_llm_totals *out, const char *run, const char *stage,
                        const char *provider) {
  if (!s || !out) return SP_FAIL(SP_EINVAL, "sp_llm_store_totals: NULL store or output");
  memset(out, 0, sizeof *out);
  sqlite3_stmt *st = s->totals;
  bind_text(st, 1, run);
  bind_text(st, 2, stage);
  bind_text(st, 3, provider);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    out->calls = sqlite3_column_int64(st, 0);
    out->cached = sqlite3_column_int64(st, 1);
    out->failed = sqlite3_column_int64(st, 2);
    out->prompt_tokens = sqlite3_column_int64(st, 3);
    out->completion_tokens = sqlite3_column_int64(st, 4);
    out->cost = sqlite3_column_double(st, 5);
    out->latency_ms = sqlite3_column_double(st, 6);
    out->attempts = sqlite3_column_int64(st, 7);
    out->cached_tokens = sqlite3_column_int64(st, 8);
  }
  int status = rc == SQLITE_ROW ? SP_OK : DB_FAIL(s, "sp_llm_store_totals");
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return status;
}

int sp_llm_store_stage(sp_llm_store *s, const char **out, const char *run, int i) {
  if (!s || !out || i < 0) return SP_FAIL(SP_EINVAL, "sp_llm_store_stage: bad argument");
  *out = NULL;
  sqlite3_stmt *st = s->stages;
  bind_text(st, 1, run);
  sqlite3_bind_int(st, 2, i);
  int rc = sqlite3_step(st);
  int status = SP_OK;
  if (rc == SQLITE_ROW) {
    const char *name = col_text(st, 0);
    size_t n = strlen(name);
    char *copy = malloc(n + 1);
    if (!copy) {
      status = SP_FAIL(SP_ENOMEM, "sp_llm_store_stage: out of memory");
    } else {
      memcpy(copy, name, n + 1);
      free(s->stage_name);
      s->stage_name = copy;
      *out = copy;
    }
  } else if (rc != SQLITE_DONE) {
    status = DB_FAIL(s, "sp_llm_store_stage");
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return status;
}

int sp_llm_store_entries(sp_llm_store *s, int64_t *out) {
  if (!s || !out) return SP_FAIL(SP_EINVAL, "sp_llm_store_entries: NULL store or output");
  *out = 0;
  int rc = sqlite3_step(s->count);
  if (rc == SQLITE_ROW) *out = sqlite3_column_int64(s->count, 0);
  int status = rc == SQLITE_ROW ? SP_OK : DB_FAIL(s, "sp_llm_store_entries");
  sqlite3_reset(s->count);
  return status;
}
