/* http.c — the LLM transport: POST requests driven by libcurl's multi interface, pulled by
 * the caller (submit, poll, read the result, release). Every request owns copies of its URL,
 * headers and body, so a retry resends exactly the same bytes. Retries: 429, 5xx and
 * connection-level failures, after an exponential, jittered delay or the server's
 * Retry-After; other statuses and local errors end the request at once. */
#include "internal.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef enum { R_QUEUED, R_WIRE, R_WAITING, R_DONE, R_REPORTED } req_phase;

typedef struct {
  char *data;
  int64_t len, cap;
} buf;

typedef struct req req;
typedef struct list {
  req *head, *tail;
  int64_t n;
} list;

struct req {
  int64_t id;
  req_phase phase;
  list *in;         /* the list it sits in (queue, waiting, done), or NULL */
  req *prev, *next; /* links within that list */
  char *url;
  char *body;
  int64_t body_len;
  struct curl_slist *headers;
  CURL *easy; /* while on the wire */
  buf resp, resp_headers, log;
  char curl_error[CURL_ERROR_SIZE];
  char error[512];
  int http_status;
  int attempts;
  int max_retries;
  int retryable;
  int not_sent;          /* failed because the attempt limit was reached */
  int64_t limit;         /* response bytes allowed */
  int overflow;          /* the body passed the limit */
  double retry_after_ms; /* from the last response's headers, < 0 when absent */
  double t_submit, t_attempt, t_attempt_end, t_finish, due;
};

struct sp_http {
  sp_http_config cfg;
  CURLM *multi;
  req **slots; /* id -> request: slot = (id & 0xffffffff) - 1 */
  int64_t n_slots, cap_slots;
  int64_t *free_slots;
  int64_t n_free;
  uint64_t seq;
  list queue, waiting, done;
  int on_wire;
  int64_t unfinished;
  CURL **spare; /* easy handles kept for reuse */
  int n_spare, cap_spare;
  char *noproxy;
  sp_rng rng;
  int64_t attempts_total; /* attempts started since sp_http_new */
  int64_t attempt_limit;  /* no attempt starts once attempts_total reaches it; < 0: none */
};

/* ---- small helpers ---------------------------------------------------------------------- */

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int buf_append(buf *b, const void *p, int64_t n) {
  if (b->len + n + 1 > b->cap) {
    int64_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + n + 1) cap *= 2;
    char *d = realloc(b->data, (size_t)cap);
    if (!d) return -1;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, (size_t)n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

static void buf_clear(buf *b) {
  b->len = 0;
  if (b->data) b->data[0] = '\0';
}

static void buf_free(buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

static void list_push(list *l, req *r) {
  r->in = l;
  r->next = NULL;
  r->prev = l->tail;
  if (l->tail)
    l->tail->next = r;
  else
    l->head = r;
  l->tail = r;
  l->n++;
}

static void list_remove(req *r) {
  list *l = r->in;
  if (!l) return;
  if (r->prev)
    r->prev->next = r->next;
  else
    l->head = r->next;
  if (r->next)
    r->next->prev = r->prev;
  else
    l->tail = r->prev;
  r->prev = r->next = NULL;
  r->in = NULL;
  l->n--;
}

static char *dup_text(const char *s, int64_t n) {
  char *d = malloc((size_t)n + 1);
  if (!d) return NULL;
  if (n) memcpy(d, s, (size_t)n);
  d[n] = '\0';
  return d;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;
static void curl_init(void) {
  curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- configuration ---------------------------------------------------------------------- */

void sp_http_config_default(sp_http_config *cfg) {
  if (!cfg) return;
  memset(cfg, 0, sizeof *cfg);
  cfg->max_in_flight = 16;
  cfg->connect_timeout_ms = 10000;
  cfg->timeout_ms = 120000;
  cfg->max_retries = 5;
  cfg->backoff_ms = 500;
  cfg->backoff_max_ms = 60000;
  cfg->max_response_bytes = (int64_t)32 << 20;
  cfg->seed = 0x5eed;
}

/* Loopback is never sent through a proxy; the user's no_proxy list is kept. */
static char *make_noproxy(void) {
  const char *env = getenv("no_proxy");
  if (!env || !*env) env = getenv("NO_PROXY");
  const char *local = "localhost,127.0.0.1,::1";
  if (!env || !*env) return dup_text(local, (int64_t)strlen(local));
  size_t n = strlen(env) + strlen(local) + 2;
  char *s = malloc(n);
  if (s) snprintf(s, n, "%s,%s", env, local);
  return s;
}

int sp_http_new(sp_http **out, const sp_http_config *cfg) {
  if (!out) return SP_FAIL(SP_EINVAL, "sp_http_new: NULL output");
  *out = NULL;
  sp_http_config c;
  if (cfg)
    c = *cfg;
  else
    sp_http_config_default(&c);
  if (c.max_in_flight < 1 || c.max_in_flight > 4096)
    return SP_FAIL(SP_EINVAL, "sp_http_new: max_in_flight must be in [1, 4096], got %d",
                   c.max_in_flight);
  if (c.connect_timeout_ms < 1 || c.timeout_ms < 1)
    return SP_FAIL(SP_EINVAL, "sp_http_new: timeouts must be positive (connect %d ms, total %d ms)",
                   c.connect_timeout_ms, c.timeout_ms);
  if (c.max_retries < 0 || c.backoff_ms < 0 || c.backoff_max_ms < 0)
    return SP_FAIL(SP_EINVAL, "sp_http_new: retries and backoff must not be negative");
  if (c.max_response_bytes < 1)
    return SP_FAIL(SP_EINVAL, "sp_http_new: max_response_bytes must be positive");
  pthread_once(&curl_once, curl_init);
  if (curl_init_rc != CURLE_OK)
    return SP_FAIL(SP_ESTATE, "sp_http_new: curl_global_init failed: %s",
                   curl_easy_strerror(curl_init_rc));
  sp_http *h = calloc(1, sizeof *h);
  if (!h) return SP_FAIL(SP_ENOMEM, "sp_http_new: out of memory");
  h->cfg = c;
  h->attempt_limit = -1;
  h->multi = curl_multi_init();
  h->noproxy = make_noproxy();
  if (!h->multi || !h->noproxy) {
    sp_http_free(h);
    return SP_FAIL(SP_ENOMEM, "sp_http_new: cannot create the curl multi handle");
  }
  curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)c.max_in_flight);
  curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)c.max_in_flight + 4);
  sp_rng_init(&h->rng, c.seed);
  *out = h;
  return SP_OK;
}

static void req_free(req *r) {
  if (!r) return;
  free(r->url);
  free(r->body);
  curl_slist_free_all(r->headers);
  buf_free(&r->resp);
  buf_free(&r->resp_headers);
  buf_free(&r->log);
  free(r);
}

void sp_http_free(sp_http *h) {
  if (!h) return;
  for (int64_t i = 0; i < h->n_slots; i++) {
    req *r = h->slots[i];
    if (!r) continue;
    if (r->easy) {
      curl_multi_remove_handle(h->multi, r->easy);
      curl_easy_cleanup(r->easy);
    }
    req_free(r);
  }
  for (int i = 0; i < h->n_spare; i++) curl_easy_cleanup(h->spare[i]);
  if (h->multi) curl_multi_cleanup(h->multi);
  free(h->slots);
  free(h->free_slots);
  free(h->spare);
  free(h->noproxy);
  free(h);
}

/* ---- requests by id ----------------------------------------------------------------------- */

static req *find(const sp_http *h, int64_t id) {
  int64_t slot = (id & 0xffffffff) - 1;
  if (slot < 0 || slot >= h->n_slots) return NULL;
  req *r = h->slots[slot];
  return r && r->id == id ? r : NULL;
}

/* A free slot index, growing the table when none is free; -1 when out of memory. */
static int64_t take_slot(sp_http *h) {
  if (h->n_free) return h->free_slots[--h->n_free];
  if (h->n_slots == h->cap_slots) {
    int64_t cap = h->cap_slots ? 2 * h->cap_slots : 256;
    req **s = realloc(h->slots, (size_t)cap * sizeof *s);
    if (!s) return -1;
    h->slots = s;
    int64_t *f = realloc(h->free_slots, (size_t)cap * sizeof *f);
    if (!f) return -1;
    h->free_slots = f;
    h->cap_slots = cap;
  }
  h->slots[h->n_slots] = NULL;
  return h->n_slots++;
}

int sp_http_submit(sp_http *h, int64_t *id, const char *url, const char *headers, const char *body,
                   int64_t body_len, int max_retries) {
  if (!h || !id || !url || (!body && body_len > 0) || body_len < 0)
    return SP_FAIL(SP_EINVAL, "sp_http_submit: NULL client, id, url or body");
  *id = 0;
  if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
    return SP_FAIL(SP_EINVAL,
                   "sp_http_submit: url must start with http:// or https://, got '%.80s'", url);
  req *r = calloc(1, sizeof *r);
  if (!r) return SP_FAIL(SP_ENOMEM, "sp_http_submit: out of memory");
  r->url = dup_text(url, (int64_t)strlen(url));
  r->body = dup_text(body ? body : "", body_len);
  int oom = !r->url || !r->body;
  /* "Expect:" off: no 100-continue round trip before large bodies */
  r->headers = curl_slist_append(NULL, "Expect:");
  oom |= !r->headers;
  for (const char *p = headers; !oom && p && *p;) {
    const char *e = strchr(p, '\n');
    int64_t n = e ? e - p : (int64_t)strlen(p);
    if (n > 0 && p[n - 1] == '\r') n--;
    if (n > 0) {
      char *line = dup_text(p, n);
      struct curl_slist *l = line ? curl_slist_append(r->headers, line) : NULL;
      free(line);
      if (!l)
        oom = 1;
      else
        r->headers = l;
    }
    p = e ? e + 1 : p + strlen(p);
  }
  int64_t slot = oom ? -1 : take_slot(h);
  if (slot < 0) {
    req_free(r);
    return SP_FAIL(SP_ENOMEM, "sp_http_submit: out of memory");
  }
  r->body_len = body_len;
  r->max_retries = max_retries < 0 ? h->cfg.max_retries : max_retries;
  r->id = (int64_t)((++h->seq & 0x7fffffff) << 32) | (slot + 1);
  r->retry_after_ms = -1;
  r->t_submit = now_ms();
  r->phase = R_QUEUED;
  h->slots[slot] = r;
  list_push(&h->queue, r);
  h->unfinished++;
  *id = r->id;
  return SP_OK;
}

/* ---- libcurl callbacks: they only copy bytes into the request's buffers --------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  req *r = ud;
  size_t bytes = size * n;
  if (r->resp.len + (int64_t)bytes > r->limit) {
    r->overflow = 1;
    return 0; /* makes curl fail the transfer with CURLE_WRITE_ERROR */
  }
  return buf_append(&r->resp, p, (int64_t)bytes) ? 0 : bytes;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  req *r = ud;
  size_t bytes = size * n;
  if (bytes >= 5 && strncmp(p, "HTTP/", 5) == 0) { /* a new response (after 100, redirects) */
    buf_clear(&r->resp_headers);
    r->retry_after_ms = -1;
  }
  if (bytes > 12 && strncasecmp(p, "retry-after", 11) == 0) {
    char value[128];
    size_t skip = strncasecmp(p, "retry-after-ms:", 15) == 0 ? 15 : 12;
    if (bytes > skip && p[skip - 1] == ':') {
      size_t len = bytes - skip < sizeof value - 1 ? bytes - skip : sizeof value - 1;
      memcpy(value, p + skip, len);
      value[len] = '\0';
      char *end;
      double v = strtod(value, &end);
      if (end != value && v >= 0) {
        r->retry_after_ms = skip == 15 ? v : v * 1e3;
      } else { /* an HTTP date */
        time_t t = curl_getdate(value, NULL);
        if (t > 0) {
          double d = difftime(t, time(NULL)) * 1e3;
          r->retry_after_ms = d > 0 ? d : 0;
        }
      }
    }
  }
  return buf_append(&r->resp_headers, p, (int64_t)bytes) ? 0 : bytes;
}

/* ---- attempts ------------------------------------------------------------------------------ */

static CURL *easy_for(sp_http *h, req *r) {
  CURL *e = h->n_spare ? h->spare[--h->n_spare] : curl_easy_init();
  if (!e) return NULL;
  curl_easy_setopt(e, CURLOPT_URL, r->url);
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->curl_error);
  curl_easy_setopt(e, CURLOPT_PRIVATE, r);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)h->cfg.connect_timeout_ms);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)h->cfg.timeout_ms);
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h->cfg.max_response_bytes);
  curl_easy_setopt(e, CURLOPT_NOPROXY, h->noproxy);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "sprint/" SPRINT_VERSION_STRING);
  return e;
}

static void easy_done(sp_http *h, CURL *e) {
  curl_easy_reset(e);
  if (h->n_spare == h->cap_spare) {
    int cap = h->cap_spare ? 2 * h->cap_spare : 16;
    CURL **s = realloc(h->spare, (size_t)cap * sizeof *s);
    if (!s) {
      curl_easy_cleanup(e);
      return;
    }
    h->spare = s;
    h->cap_spare = cap;
  }
  h->spare[h->n_spare++] = e;
}

static void finish(sp_http *h, req *r, int state_ok, int retryable) {
  r->phase = R_DONE;
  r->retryable = retryable;
  r->t_finish = now_ms();
  if (state_ok) r->error[0] = '\0';
  list_push(&h->done, r);
  h->unfinished--;
}

static int limit_reached(const sp_http *h) {
  return h->attempt_limit >= 0 && h->attempts_total >= h->attempt_limit;
}

/* r (not on the wire) fails without another attempt: the attempt limit was reached. what: the
 * previous attempt's failure, or NULL when it never went out. */
static void fail_not_sent(sp_http *h, req *r, const char *what) {
  snprintf(r->error, sizeof r->error, "%s%snot sent: the client's attempt limit (%lld) was reached",
           what ? what : "", what ? "; " : "", (long long)h->attempt_limit);
  r->not_sent = 1;
  finish(h, r, 0, 0);
}

/* Once the limit is reached, requests waiting to retry fail now rather than after their delay. */
static void drop_waiting_over_limit(sp_http *h) {
  if (!limit_reached(h)) return;
  while (h->waiting.head) {
    req *r = h->waiting.head;
    list_remove(r);
    fail_not_sent(h, r, "waiting to retry");
  }
}

/* Puts queued requests on the wire while the in-flight limit allows. A request that cannot get
 * an easy handle fails with the reason rather than waiting forever. */
static void start_queued(sp_http *h) {
  while (h->queue.head && h->on_wire < h->cfg.max_in_flight) {
    req *r = h->queue.head;
    list_remove(r);
    if (limit_reached(h)) {
      fail_not_sent(h, r, r->attempts ? "waiting to retry" : NULL);
      continue;
    }
    buf_clear(&r->resp);
    buf_clear(&r->resp_headers);
    r->curl_error[0] = '\0';
    r->http_status = 0;
    r->retry_after_ms = -1;
    r->overflow = 0;
    r->limit = h->cfg.max_response_bytes;
    CURL *e = easy_for(h, r);
    if (!e || curl_multi_add_handle(h->multi, e) != CURLM_OK) {
      if (e) curl_easy_cleanup(e);
      snprintf(r->error, sizeof r->error, "cannot start the transfer (out of memory)");
      finish(h, r, 0, 0);
      continue;
    }
    r->easy = e;
    r->phase = R_WIRE;
    r->attempts++;
    h->attempts_total++;
    r->t_attempt = now_ms();
    h->on_wire++;
  }
}

static int retryable_curl(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_BAD_CONTENT_ENCODING:
      return 1;
    default:
      return 0;
  }
}

/* A delay before retry number k (1-based): backoff * 2^(k-1) times a jitter factor in
 * [0.5, 1.5), or the server's Retry-After plus up to 10% jitter; capped. */
static double retry_delay(sp_http *h, const req *r) {
  double u = (double)sp_rng_u32(&h->rng) / 4294967296.0;
  double d;
  if (r->retry_after_ms >= 0) {
    d = r->retry_after_ms * (1.0 + 0.1 * u);
  } else {
    int k = r->attempts - 1;
    d = (double)h->cfg.backoff_ms * (double)(1u << (k < 20 ? k : 20)) * (0.5 + u);
  }
  if (d > h->cfg.backoff_max_ms) d = h->cfg.backoff_max_ms;
  return d;
}

static void log_line(req *r, const char *what, double delay_ms) {
  char line[400];
  int n = delay_ms >= 0 ? snprintf(line, sizeof line, "attempt %d: %s; retry in %.0f ms\n",
                                   r->attempts, what, delay_ms)
                        : snprintf(line, sizeof line, "attempt %d: %s\n", r->attempts, what);
  if (n > (int)sizeof line - 1) n = (int)sizeof line - 1;
  if (n > 0) buf_append(&r->log, line, n); /* a lost log line under OOM is acceptable */
}

/* One attempt ended with curl code rc: done, failed, or waiting for a retry. */
static void attempt_ended(sp_http *h, req *r, CURLcode rc) {
  long status = 0;
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
  curl_multi_remove_handle(h->multi, r->easy);
  easy_done(h, r->easy);
  r->easy = NULL;
  h->on_wire--;
  r->t_attempt_end = now_ms();
  r->http_status = (int)status;
  int overflow = r->overflow || rc == CURLE_FILESIZE_EXCEEDED;
  char what[400];
  int retry = 0;
  if (overflow) {
    snprintf(what, sizeof what, "response larger than %lld bytes",
             (long long)h->cfg.max_response_bytes);
  } else if (rc != CURLE_OK) {
    snprintf(what, sizeof what, "%s%s%s", curl_easy_strerror(rc), r->curl_error[0] ? ": " : "",
             r->curl_error);
    retry = retryable_curl(rc);
  } else if (status >= 200 && status < 300) {
    finish(h, r, 1, 0);
    return;
  } else {
    retry = status == 429 || status >= 500;
    /* the start of the body says why (e.g. OpenAI's error.message), on one line */
    char excerpt[200];
    int64_t n =
        r->resp.len < (int64_t)sizeof excerpt - 1 ? r->resp.len : (int64_t)sizeof excerpt - 1;
    for (int64_t i = 0; i < n; i++) {
      char c = r->resp.data[i];
      excerpt[i] = (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
    }
    excerpt[n] = '\0';
    snprintf(what, sizeof what, "HTTP %ld%s%s", status, n ? ": " : "", excerpt);
  }
  if (retry && r->attempts <= r->max_retries && limit_reached(h)) {
    log_line(r, what, -1);
    fail_not_sent(h, r, what);
    return;
  }
  if (retry && r->attempts <= r->max_retries) {
    double d = retry_delay(h, r);
    log_line(r, what, d);
    r->due = now_ms() + d;
    r->phase = R_WAITING;
    list_push(&h->waiting, r);
    return;
  }
  log_line(r, what, -1);
  if (retry)
    snprintf(r->error, sizeof r->error, "%s (gave up after %d attempts)", what, r->attempts);
  else
    snprintf(r->error, sizeof r->error, "%s", what);
  finish(h, r, 0, retry);
}

/* Waiting requests whose delay has passed go back to the front of the queue (they are older
 * than anything queued). Returns the earliest remaining due time, or -1. */
static double promote_due(sp_http *h, double now) {
  double next = -1;
  for (req *r = h->waiting.head, *nx; r; r = nx) {
    nx = r->next;
    if (r->due <= now) {
      list_remove(r);
      r->phase = R_QUEUED;
      /* push front */
      r->in = &h->queue;
      r->prev = NULL;
      r->next = h->queue.head;
      if (h->queue.head)
        h->queue.head->prev = r;
      else
        h->queue.tail = r;
      h->queue.head = r;
      h->queue.n++;
    } else if (next < 0 || r->due < next) {
      next = r->due;
    }
  }
  return next;
}

static void harvest(sp_http *h) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(h->multi, &left))) {
    if (m->msg != CURLMSG_DONE) continue;
    req *r = NULL;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    if (r) attempt_ended(h, r, m->data.result);
  }
}

int sp_http_poll(sp_http *h, int *n_done, int64_t *ids, int max, int timeout_ms) {
  if (!h || !n_done || (!ids && max > 0) || max < 0)
    return SP_FAIL(SP_EINVAL, "sp_http_poll: NULL client, count or ids");
  *n_done = 0;
  double deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
  for (;;) {
    drop_waiting_over_limit(h);
    double now = now_ms();
    double next_due = promote_due(h, now);
    start_queued(h);
    int running = 0;
    CURLMcode mc = curl_multi_perform(h->multi, &running);
    if (mc != CURLM_OK)
      return SP_FAIL(SP_ESTATE, "sp_http_poll: curl_multi_perform: %s", curl_multi_strerror(mc));
    harvest(h);
    if (h->done.n) {
      start_queued(h); /* refill the freed slots before the caller works on the answers */
      curl_multi_perform(h->multi, &running);
      harvest(h);
      break;
    }
    now = now_ms();
    if (now >= deadline) break;
    if (!h->on_wire && !h->queue.n && !h->waiting.n) break; /* nothing to wait for */
    next_due = promote_due(h, now); /* failures just harvested may wait for a retry */
    if (h->queue.n && h->on_wire < h->cfg.max_in_flight) continue;
    double wait = deadline - now;
    if (next_due >= 0 && next_due - now < wait) wait = next_due - now;
    if (wait < 0) wait = 0;
    if (h->on_wire) {
      mc = curl_multi_poll(h->multi, NULL, 0, (int)(wait + 0.999), NULL);
      if (mc != CURLM_OK)
        return SP_FAIL(SP_ESTATE, "sp_http_poll: curl_multi_poll: %s", curl_multi_strerror(mc));
    } else if (!h->queue.n) {
      struct timespec ts = {(time_t)(wait / 1e3), (long)(((int64_t)wait % 1000) * 1000000)};
      nanosleep(&ts, NULL);
    }
  }
  int n = 0;
  while (n < max && h->done.head) {
    req *r = h->done.head;
    list_remove(r);
    r->phase = R_REPORTED;
    ids[n++] = r->id;
  }
  *n_done = n;
  return SP_OK;
}

int sp_http_result_get(sp_http *h, sp_http_result *out, int64_t id) {
  if (!h || !out) return SP_FAIL(SP_EINVAL, "sp_http_result_get: NULL client or output");
  memset(out, 0, sizeof *out);
  req *r = find(h, id);
  if (!r) return SP_FAIL(SP_EINVAL, "sp_http_result_get: no request %lld", (long long)id);
  out->attempts = r->attempts;
  out->http_status = r->http_status;
  out->body = r->resp.data ? r->resp.data : "";
  out->body_len = r->resp.len;
  out->headers = r->resp_headers.data ? r->resp_headers.data : "";
  out->log = r->log.data ? r->log.data : "";
  out->error = r->error;
  if (r->phase != R_DONE && r->phase != R_REPORTED) {
    out->state = SP_HTTP_PENDING;
    out->elapsed_ms = now_ms() - r->t_submit;
    return SP_OK;
  }
  out->state = r->error[0] ? SP_HTTP_FAILED : SP_HTTP_DONE;
  out->retryable = r->retryable;
  out->not_sent = r->not_sent;
  out->elapsed_ms = r->t_finish - r->t_submit;
  out->last_attempt_ms = r->attempts ? r->t_attempt_end - r->t_attempt : 0;
  return SP_OK;
}

int sp_http_release(sp_http *h, int64_t id) {
  if (!h) return SP_FAIL(SP_EINVAL, "sp_http_release: NULL client");
  req *r = find(h, id);
  if (!r) return SP_FAIL(SP_EINVAL, "sp_http_release: no request %lld", (long long)id);
  if (r->easy) { /* still on the wire: abandon the transfer */
    curl_multi_remove_handle(h->multi, r->easy);
    curl_easy_cleanup(r->easy);
    r->easy = NULL;
    h->on_wire--;
  }
  if (r->phase != R_DONE && r->phase != R_REPORTED) h->unfinished--;
  list_remove(r);
  int64_t slot = (id & 0xffffffff) - 1;
  h->slots[slot] = NULL;
  h->free_slots[h->n_free++] = slot;
  req_free(r);
  return SP_OK;
}

int sp_http_set_attempt_limit(sp_http *h, int64_t limit) {
  if (!h) return SP_FAIL(SP_EINVAL, "sp_http_set_attempt_limit: NULL client");
  h->attempt_limit = limit < 0 ? -1 : limit;
  return SP_OK;
}

int64_t sp_http_attempts(const sp_http *h) {
  return h ? h->attempts_total : 0;
}

int sp_http_unfinished(const sp_http *h) {
  return h ? (int)h->unfinished : 0;
}
int sp_http_on_wire(const sp_http *h) {
  return h ? h->on_wire : 0;
}
