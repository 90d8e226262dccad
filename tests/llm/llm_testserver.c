/* llm_testserver.c — a loopback HTTP/1.1 server that speaks just enough of the OpenAI
 * chat-completions protocol to test and benchmark the LLM client, with scripted faults.
 * Single-threaded, poll()-driven: hundreds of connections can wait out their latency at once.
 * It binds 127.0.0.1 only and stops by itself after --max-seconds.
 *
 *   sprint_llm_testserver [--port N] [--port-file PATH] [--latency-ms N] [--jitter-ms N]
 *                         [--log PATH] [--max-seconds N] [--require-key KEY]
 *                         [--chaos RATE] [--seed N]
 *
 * It prints the bound port on stdout (and writes it to --port-file, atomically). Requests:
 *   POST .../chat/completions  an answer whose content is the JSON {"tag": T, "echo": H}
 *                              (T from a "tag=T" directive in the body, H a hash of the body)
 *   POST .../embeddings        8 numbers from the body's hash (embedding=tokens: 3 per-token
 *                              vectors); the faults below apply as to chat requests
 *   GET /stats                 {"requests": N, "answered": N, "faults": N}
 *   GET /quit                  stops the server
 * Directives anywhere in the request body (so inside a message's text; the last one counts):
 *   tag=NAME                   echoed in the answer and the log
 *   fault=K1*N1,K2*N2,...      the first N1 arrivals of this exact body get fault K1, the next
 *                              N2 get K2, ...; a kind without *N applies forever. Kinds: 429,
 *                              500, 503, 400, 401, 404, reset (RST, no answer), close (FIN, no
 *                              answer), truncate (body shorter than its Content-Length),
 *                              badjson (200 with broken JSON), hang (200, a chunked body that
 *                              never ends), huge (200 with 256 MiB of body), slow (answer after
 *                              the client's patience: 30 s)
 *   retry_after=S              the Retry-After seconds a 429/503 carries (default 0)
 *   latency=MS                 this request's latency instead of --latency-ms
 *   refuse=json_schema,json_object   400 when response_format has one of these types
 *   finish=length              finish_reason "length"
 *   content=prose|text|empty   JSON wrapped in prose and a code fence / plain text / ""
 *   content=pc|gip             a Stage-1 answer: P&C {"intents": [2 of 24], "prediction": "C1".."C6"}
 *                              chosen by the body's hash, or an intent pool of 4
 * --chaos RATE: a first arrival gets a random fault (429, 500, 503, reset, truncate, badjson)
 * with probability RATE; later arrivals of the same body are answered.
 * Log lines (--log): "SEQ HASH TAG OUTCOME", one per request, flushed at once: a fault when it
 * is decided, "ok" when the answer starts going out (after its latency). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { C_READ, C_WAIT, C_WRITE, C_HANG, C_HUGE, C_DEAD };

typedef struct {
  int fd;
  int state;
  char *in;
  size_t in_len, in_cap;
  char *out;
  size_t out_len, out_off, out_cap;
  double due;          /* C_WAIT: when to send; C_HANG: next trickle */
  int close_after;     /* close once the output is written */
  int reset;           /* close with RST (SO_LINGER 0) instead of answering */
  long long huge_left; /* C_HUGE: body bytes still to send */
  char done_log[128];  /* a normal answer is logged once it has been written out */
} conn;

static struct {
  int latency_ms, jitter_ms, max_seconds;
  double chaos;
  uint64_t seed;
  const char *require_key;
  FILE *log;
  long long requests, answered, faults;
  int quit;
} S = {0, 0, 600, 0, 1, NULL, NULL, 0, 0, 0, 0};

/* ---- body hash -> arrival count ------------------------------------------------------------ */
typedef struct {
  uint64_t key;
  int count;
} slot;
static slot *seen;
static size_t seen_cap, seen_n;

static int arrivals(uint64_t key) { /* increments and returns the count for key */
  if (2 * (seen_n + 1) > seen_cap) {
    size_t cap = seen_cap ? 2 * seen_cap : 1024;
    slot *t = calloc(cap, sizeof *t);
    if (!t) exit(3);
    for (size_t i = 0; i < seen_cap; i++)
      if (seen[i].count) {
        size_t j = seen[i].key & (cap - 1);
        while (t[j].count) j = (j + 1) & (cap - 1);
        t[j] = seen[i];
      }
    free(seen);
    seen = t;
    seen_cap = cap;
  }
  size_t j = key & (seen_cap - 1);
  while (seen[j].count && seen[j].key != key) j = (j + 1) & (seen_cap - 1);
  if (!seen[j].count) {
    seen[j].key = key;
    seen_n++;
  }
  return ++seen[j].count;
}

static uint64_t fnv1a(const char *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
  return h;
}

static uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- output buffer ----------------------------------------------------------------------------
 */
static void out_add(conn *c, const char *p, size_t n) {
  if (c->out_len + n > c->out_cap) {
    size_t cap = c->out_cap ? c->out_cap : 4096;
    while (cap < c->out_len + n) cap *= 2;
    char *d = realloc(c->out, cap);
    if (!d) exit(3);
    c->out = d;
    c->out_cap = cap;
  }
  memcpy(c->out + c->out_len, p, n);
  c->out_len += n;
}

static void out_fmt(conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_fmt(conn *c, const char *fmt, ...) {
  char tmp[4096];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n >= sizeof tmp) n = sizeof tmp - 1;
  out_add(c, tmp, (size_t)n);
}

/* ---- directives ---------------------------------------------------------------------------------
 */
/* The value of the last "name=" in body (so the latest turn of a conversation decides):
 * letters, digits and _-.,* up to len-1 chars; "" when absent. */
static const char *directive(const char *body, size_t n, const char *name, char *val, size_t len) {
  size_t k = strlen(name);
  val[0] = '\0';
  const char *p = body, *end = body + n;
  while ((p = memmem(p, (size_t)(end - p), name, k))) {
    if (p + k < end && p[k] == '=' &&
        (p == body || !(p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z')))) {
      const char *v = p + k + 1;
      size_t i = 0;
      while (v < end && i + 1 < len &&
             ((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') || (*v >= '0' && *v <= '9') ||
              *v == '_' || *v == '-' || *v == '.' || *v == ',' || *v == '*'))
        val[i++] = *v++;
      val[i] = '\0';
    }
    p += k;
  }
  return val;
}

/* The fault for arrival number k of a body under the script "K1*N1,K2*N2,...", or "". */
static void fault_for(const char *script, int k, char *kind, size_t len) {
  kind[0] = '\0';
  char tmp[256];
  snprintf(tmp, sizeof tmp, "%s", script);
  int covered = 0;
  for (char *save = NULL, *tok = strtok_r(tmp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    char *star = strchr(tok, '*');
    int times = -1;
    if (star) {
      *star = '\0';
      times = atoi(star + 1);
    }
    if (times < 0 || k <= covered + times) {
      snprintf(kind, len, "%s", tok);
      return;
    }
    covered += times;
  }
}

static void json_escape_into(conn *c, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (ch == '"' || ch == '\\') {
      char e[2] = {'\\', ch};
      out_add(c, e, 2);
    } else if (ch == '\n') {
      out_add(c, "\\n", 2);
    } else if ((unsigned char)ch < 0x20) {
      out_fmt(c, "\\u%04x", ch);
    } else {
      out_add(c, &ch, 1);
    }
  }
}

static void logline(long long seq, uint64_t h, const char *tag, const char *outcome) {
  if (!S.log) return;
  fprintf(S.log, "%lld %016llx %s %s\n", seq, (unsigned long long)h, tag[0] ? tag : "-", outcome);
  fflush(S.log);
}

static void simple(conn *c, int status, const char *reason, const char *extra_headers,
                   const char *body) {
  out_fmt(c, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n",
          status, reason, strlen(body), extra_headers ? extra_headers : "");
  out_add(c, body, strlen(body));
}

/* An embeddings answer: 8 numbers in [-0.5, 0.5) that depend only on the body's hash h (so on
 * the model and the text), or with the directive embedding=tokens three per-token vectors of
 * them (as llama.cpp's server gives without a pooling type), the middle one h's own. */
static void embeddings_answer(conn *c, long long seq, uint64_t h, const char *model, const char *body,
                              size_t n, const char *tag) {
  char form[32];
  directive(body, n, "embedding", form, sizeof form);
  int tokens = strcmp(form, "tokens") == 0;
  conn tmp = {0};
  out_fmt(&tmp, "{\"object\":\"list\",\"model\":\"%s\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
          "\"embedding\":%s", model, tokens ? "[" : "");
  for (int t = 0; t < (tokens ? 3 : 1); t++) {
    uint64_t ht = tokens ? h + (uint64_t)(t - 1) * 0x9e3779b97f4a7c15ull : h;
    out_fmt(&tmp, "%s[", t ? "," : "");
    for (int k = 0; k < 8; k++)
      out_fmt(&tmp, "%s%.6f", k ? "," : "", (double)(mix(ht + (uint64_t)k) >> 11) / 9007199254740992.0 - 0.5);
    out_fmt(&tmp, "]");
  }
  out_fmt(&tmp, "%s}],\"usage\":{\"prompt_tokens\":%lld,\"total_tokens\":%lld}}", tokens ? "]" : "",
          (long long)n / 4, (long long)n / 4);
  out_fmt(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n", tmp.out_len);
  out_add(c, tmp.out, tmp.out_len);
  free(tmp.out);
  S.answered++;
  snprintf(c->done_log, sizeof c->done_log, "%lld %016llx %s ok", seq, (unsigned long long)h, tag[0] ? tag : "-");
}

/* Builds the answer (or fault) for one complete request; sets the state to wait for latency. */
static void handle(conn *c, const char *method, const char *path, const char *auth,
                   const char *body, size_t n) {
  double due = now_ms();
  c->state = C_WAIT;
  if (strcmp(method, "GET") == 0) {
    if (strcmp(path, "/stats") == 0) {
      char b[256];
      snprintf(b, sizeof b, "{\"requests\":%lld,\"answered\":%lld,\"faults\":%lld}", S.requests,
               S.answered, S.faults);
      simple(c, 200, "OK", NULL, b);
    } else if (strcmp(path, "/quit") == 0) {
      simple(c, 200, "OK", NULL, "{}");
      S.quit = 1;
    } else {
      simple(c, 404, "Not Found", NULL, "{\"error\":{\"message\":\"no such path\"}}");
    }
    c->due = due;
    return;
  }
  size_t plen = strlen(path);
  int embeddings = plen >= 11 && strcmp(path + plen - 11, "/embeddings") == 0;
  if (strcmp(method, "POST") != 0 ||
      (!embeddings && (plen < 17 || strcmp(path + plen - 17, "/chat/completions")))) {
    simple(c, 404, "Not Found", NULL, "{\"error\":{\"message\":\"unknown endpoint\"}}");
    c->due = due;
    return;
  }
  long long seq = ++S.requests;
  uint64_t h = fnv1a(body, n);
  int k = arrivals(h);
  char tag[64], script[256], kind[32], val[64];
  directive(body, n, "tag", tag, sizeof tag);
  directive(body, n, "fault", script, sizeof script);
  fault_for(script, k, kind, sizeof kind);
  if (!kind[0] && S.chaos > 0 && k == 1) {
    static const char *kinds[] = {"429", "500", "503", "reset", "truncate", "badjson"};
    uint64_t r = mix(h ^ S.seed);
    if ((double)(r >> 11) / 9007199254740992.0 < S.chaos)
      snprintf(kind, sizeof kind, "%s", kinds[(r >> 3) % 6]);
  }
  int latency = S.latency_ms;
  if (S.jitter_ms > 0) latency += (int)(mix(h + (uint64_t)k) % (uint64_t)(S.jitter_ms + 1));
  if (directive(body, n, "latency", val, sizeof val)[0]) latency = atoi(val);
  c->due = due + latency;
  if (S.require_key) {
    char want[512];
    snprintf(want, sizeof want, "Bearer %s", S.require_key);
    if (!auth || strcmp(auth, want) != 0) {
      simple(c, 401, "Unauthorized", NULL,
             "{\"error\":{\"message\":\"Incorrect API key "
             "provided\",\"type\":\"invalid_request_error\"}}");
      logline(seq, h, tag, "401-key");
      S.faults++;
      return;
    }
  }
  char refuse[32];
  directive(body, n, "refuse", refuse, sizeof refuse);
  int refused = 0;
  for (char *save = NULL, *t = strtok_r(refuse, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    char needle[64];
    snprintf(needle, sizeof needle, "\"type\":\"%s\"", t);
    if (memmem(body, n, needle, strlen(needle))) refused = 1;
  }
  {
    if (refused) {
      simple(c, 400, "Bad Request", NULL,
             "{\"error\":{\"message\":\"response_format of this type is not supported by this "
             "server\",\"param\":\"response_format\"}}");
      logline(seq, h, tag, "refused");
      S.faults++;
      return;
    }
  }
  if (kind[0]) {
    S.faults++;
    logline(seq, h, tag, kind);
    char ra[64], hdr[128];
    directive(body, n, "retry_after", ra, sizeof ra);
    snprintf(hdr, sizeof hdr, "Retry-After: %s\r\n", ra[0] ? ra : "0");
    if (!strcmp(kind, "429")) {
      simple(c, 429, "Too Many Requests", hdr, "{\"error\":{\"message\":\"rate limited\"}}");
    } else if (!strcmp(kind, "500")) {
      simple(c, 500, "Internal Server Error", NULL, "{\"error\":{\"message\":\"boom\"}}");
    } else if (!strcmp(kind, "503")) {
      simple(c, 503, "Service Unavailable", hdr, "{\"error\":{\"message\":\"overloaded\"}}");
    } else if (!strcmp(kind, "400")) {
      simple(c, 400, "Bad Request", NULL, "{\"error\":{\"message\":\"bad request\"}}");
    } else if (!strcmp(kind, "401")) {
      simple(c, 401, "Unauthorized", NULL, "{\"error\":{\"message\":\"no key\"}}");
    } else if (!strcmp(kind, "404")) {
      simple(c, 404, "Not Found", NULL, "{\"error\":{\"message\":\"The model does not exist\"}}");
    } else if (!strcmp(kind, "reset")) {
      c->reset = 1;
    } else if (!strcmp(kind, "close")) {
      c->close_after = 1;
    } else if (!strcmp(kind, "truncate")) {
      const char *b = "{\"id\":\"x\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\"";
      out_fmt(c,
              "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
              strlen(b) + 500, b);
      c->close_after = 1;
    } else if (!strcmp(kind, "badjson")) {
      simple(c, 200, "OK", NULL, "{\"id\":\"x\",\"choices\":[{\"index\":0,\"message\":{\"role\"");
    } else if (!strcmp(kind, "hang")) {
      out_fmt(c,
              "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: "
              "chunked\r\n\r\n1\r\n{\r\n");
      c->state = C_WAIT; /* becomes C_HANG once the headers are out */
      c->huge_left = -1;
    } else if (!strcmp(kind, "huge")) {
      c->huge_left = 256ll << 20;
      out_fmt(c,
              "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %lld\r\n\r\n",
              c->huge_left);
    } else if (!strcmp(kind, "slow")) {
      c->due += 30000;
      simple(c, 500, "Internal Server Error", NULL, "{\"error\":{\"message\":\"too late\"}}");
    } else {
      simple(c, 500, "Internal Server Error", NULL, "{\"error\":{\"message\":\"unknown fault\"}}");
    }
    return;
  }
  /* a normal answer */
  char model[128] = "loopback-test";
  const char *m = memmem(body, n, "\"model\":\"", 9);
  if (m) {
    m += 9;
    size_t i = 0;
    while (m + i < body + n && m[i] != '"' && i + 1 < sizeof model) i++;
    memcpy(model, m, i);
    model[i] = '\0';
  }
  if (embeddings) {
    embeddings_answer(c, seq, h, model, body, n, tag);
    return;
  }
  char content[1024], form[32], finish[32];
  int cl = snprintf(content, sizeof content, "{\"tag\":\"%s\",\"echo\":\"%016llx\"}", tag,
                    (unsigned long long)h);
  directive(body, n, "content", form, sizeof form);
  if (!strcmp(form, "prose")) {
    cl = snprintf(
        content, sizeof content,
        "Sure! Here is the answer you asked for:\n```json\n{\"tag\":\"%s\",\"echo\":\"%016llx\"}"
        "\n```\nHope it helps.",
        tag, (unsigned long long)h);
  } else if (!strcmp(form, "text")) {
    cl = snprintf(content, sizeof content, "I would rather talk about the weather.");
  } else if (!strcmp(form, "empty")) {
    cl = 0;
    content[0] = '\0';
  } else if (!strcmp(form, "pc")) {
    /* a Stage-1 P&C answer that depends only on the request: two intents from a vocabulary of
     * 24 (so the pool grows) and one of six labels (so tries fail and succeed) */
    cl = snprintf(content, sizeof content, "{\"intents\":[\"intent %d\",\"intent %d\"],\"prediction\":\"C%d\"}",
                  (int)(h % 24), (int)((h >> 8) % 24), (int)((h >> 16) % 6) + 1);
  } else if (!strcmp(form, "gip")) {
    cl = snprintf(content, sizeof content,
                  "{\"intents\":[\"intent 0\",\"intent 1\",\"intent 2\",\"intent 3\"]}");
  }
  if (cl < 0) cl = 0;
  if (cl >= (int)sizeof content) cl = (int)sizeof content - 1;
  directive(body, n, "finish", finish, sizeof finish);
  if (!finish[0]) snprintf(finish, sizeof finish, "stop");
  conn tmp = {0};
  out_fmt(&tmp,
          "{\"id\":\"chatcmpl-loopback-%lld\",\"object\":\"chat.completion\",\"created\":0,"
          "\"model\":\"%s\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
          "\"content\":\"",
          seq, model);
  json_escape_into(&tmp, content, (size_t)cl);
  long long pt = (long long)n / 4, ct = cl / 4 + 1;
  out_fmt(&tmp,
          "\"},\"finish_reason\":\"%s\"}],\"usage\":{\"prompt_tokens\":%lld,"
          "\"completion_tokens\":%lld,\"total_tokens\":%lld}}",
          finish, pt, ct, pt + ct);
  out_fmt(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
          tmp.out_len);
  out_add(c, tmp.out, tmp.out_len);
  free(tmp.out);
  S.answered++;
  snprintf(c->done_log, sizeof c->done_log, "%lld %016llx %s ok", seq, (unsigned long long)h,
           tag[0] ? tag : "-");
}

/* Parses a complete request in c->in if there is one; 1 when handled. */
static int try_request(conn *c) {
  char *hend = memmem(c->in, c->in_len, "\r\n\r\n", 4);
  if (!hend) {
    if (c->in_len > 65536) c->state = C_DEAD;
    return 0;
  }
  size_t hlen = (size_t)(hend - c->in) + 4;
  char method[16] = "", path[512] = "";
  sscanf(c->in, "%15s %511s", method, path);
  size_t clen = 0;
  char auth[512] = "";
  int close_req = 0;
  for (char *line = memchr(c->in, '\n', hlen); line && line < hend;
       line = memchr(line + 1, '\n', (size_t)(hend - line))) {
    char *l = line + 1;
    if (!strncasecmp(l, "Content-Length:", 15)) clen = strtoul(l + 15, NULL, 10);
    if (!strncasecmp(l, "Connection: close", 17)) close_req = 1;
    if (!strncasecmp(l, "Authorization:", 14)) {
      char *v = l + 14;
      while (*v == ' ') v++;
      size_t i = 0;
      while (v[i] && v[i] != '\r' && v[i] != '\n' && i + 1 < sizeof auth) {
        auth[i] = v[i];
        i++;
      }
      auth[i] = '\0';
    }
  }
  if (c->in_len < hlen + clen) return 0;
  handle(c, method, path, auth[0] ? auth : NULL, c->in + hlen, clen);
  if (close_req) c->close_after = 1;
  memmove(c->in, c->in + hlen + clen, c->in_len - hlen - clen);
  c->in_len -= hlen + clen;
  return 1;
}

static void conn_close(conn *c) {
  if (c->fd >= 0) {
    if (c->reset) {
      struct linger lg = {1, 0};
      setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(c->fd);
  }
  c->fd = -1;
  c->state = C_DEAD;
}

static int parse_int(const char *s, const char *what) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*end || v < 0) {
    fprintf(stderr, "llm_testserver: bad %s '%s'\n", what, s);
    exit(2);
  }
  return (int)v;
}

int main(int argc, char **argv) {
  int port = 0;
  const char *port_file = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) {
      fprintf(stderr, "llm_testserver: %s needs a value\n", a);
      return 2;
    }
    i++;
    if (!strcmp(a, "--port"))
      port = parse_int(v, a);
    else if (!strcmp(a, "--port-file"))
      port_file = v;
    else if (!strcmp(a, "--latency-ms"))
      S.latency_ms = parse_int(v, a);
    else if (!strcmp(a, "--jitter-ms"))
      S.jitter_ms = parse_int(v, a);
    else if (!strcmp(a, "--max-seconds"))
      S.max_seconds = parse_int(v, a);
    else if (!strcmp(a, "--require-key"))
      S.require_key = v;
    else if (!strcmp(a, "--chaos"))
      S.chaos = atof(v);
    else if (!strcmp(a, "--seed"))
      S.seed = (uint64_t)parse_int(v, a);
    else if (!strcmp(a, "--log")) {
      S.log = fopen(v, "a");
      if (!S.log) {
        perror(v);
        return 2;
      }
    } else {
      fprintf(stderr, "llm_testserver: unknown option %s\n", a);
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons((uint16_t)port);
  if (ls < 0 || bind(ls, (struct sockaddr *)&addr, sizeof addr) || listen(ls, 512)) {
    perror("llm_testserver: bind 127.0.0.1");
    return 1;
  }
  socklen_t alen = sizeof addr;
  getsockname(ls, (struct sockaddr *)&addr, &alen);
  port = ntohs(addr.sin_port);
  if (port_file) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) || rename(tmp, port_file)) {
      perror(port_file);
      return 1;
    }
  }
  printf("%d\n", port);
  fflush(stdout);

  conn *cs = NULL;
  size_t nc = 0, capc = 0;
  struct pollfd *pf = NULL;
  double stop_at = now_ms() + 1e3 * S.max_seconds;
  char rbuf[65536];
  while (!S.quit && now_ms() < stop_at) {
    /* drop dead connections */
    size_t w = 0;
    for (size_t i = 0; i < nc; i++) {
      if (cs[i].state == C_DEAD) {
        free(cs[i].in);
        free(cs[i].out);
      } else {
        cs[w++] = cs[i];
      }
    }
    nc = w;
    pf = realloc(pf, (nc + 1) * sizeof *pf);
    if (!pf) return 3;
    double now = now_ms(), next = stop_at;
    pf[0] = (struct pollfd){ls, POLLIN, 0};
    for (size_t i = 0; i < nc; i++) {
      conn *c = &cs[i];
      short ev = 0;
      if (c->state == C_READ) ev = POLLIN;
      if (c->state == C_WRITE || c->state == C_HUGE) ev = POLLOUT;
      if (c->state == C_WAIT || c->state == C_HANG) {
        if (c->due < next) next = c->due;
        ev = POLLIN; /* notice a client that gives up */
      }
      pf[i + 1] = (struct pollfd){c->fd, ev, 0};
    }
    int timeout = (int)(next - now + 0.999);
    if (timeout < 0) timeout = 0;
    if (poll(pf, nc + 1, timeout) < 0 && errno != EINTR) {
      perror("poll");
      return 1;
    }
    now = now_ms();
    for (size_t i = 0; i < nc; i++) {
      conn *c = &cs[i];
      short re = pf[i + 1].revents;
      if (c->state == C_READ && (re & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t r = read(c->fd, rbuf, sizeof rbuf);
        if (r <= 0) {
          if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
          conn_close(c);
          continue;
        }
        if (c->in_len + (size_t)r > c->in_cap) {
          size_t cap = c->in_cap ? c->in_cap : 8192;
          while (cap < c->in_len + (size_t)r) cap *= 2;
          c->in = realloc(c->in, cap);
          if (!c->in) return 3;
          c->in_cap = cap;
        }
        memcpy(c->in + c->in_len, rbuf, (size_t)r);
        c->in_len += (size_t)r;
        try_request(c);
      } else if ((c->state == C_WAIT || c->state == C_HANG) && (re & (POLLHUP | POLLERR))) {
        conn_close(c);
      } else if ((c->state == C_WAIT || c->state == C_HANG) && (re & POLLIN)) {
        /* the client closed (EOF) or sent more; only EOF matters here */
        ssize_t r = recv(c->fd, rbuf, sizeof rbuf, MSG_PEEK);
        if (r == 0) conn_close(c);
      }
      if (c->state == C_WAIT && now >= c->due) {
        if (c->reset || (c->close_after && c->out_len == 0)) {
          conn_close(c);
          continue;
        }
        c->state = c->huge_left > 0 ? C_HUGE : C_WRITE;
        if (c->done_log[0] && S.log) { /* logged before the client can have the answer */
          fprintf(S.log, "%s\n", c->done_log);
          fflush(S.log);
        }
        c->done_log[0] = '\0';
      }
      if (c->state == C_HANG && now >= c->due) {
        out_add(c, "1\r\n \r\n", 6); /* one more space, forever */
        c->due = now + 100;
      }
      if ((c->state == C_WRITE || c->state == C_HUGE || c->state == C_HANG) &&
          c->out_off < c->out_len) {
        ssize_t r = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (r < 0 && errno != EAGAIN && errno != EINTR) {
          conn_close(c);
          continue;
        }
        if (r > 0) c->out_off += (size_t)r;
      }
      if (c->out_off == c->out_len &&
          (c->state == C_WRITE || c->state == C_HUGE || c->state == C_HANG)) {
        c->out_off = c->out_len = 0;
        if (c->state == C_HUGE && c->huge_left > 0) {
          char chunk[65536];
          memset(chunk, ' ', sizeof chunk);
          size_t k = c->huge_left < (long long)sizeof chunk ? (size_t)c->huge_left : sizeof chunk;
          out_add(c, chunk, k);
          c->huge_left -= (long long)k;
        } else if (c->state == C_WRITE && c->huge_left < 0) {
          c->state = C_HANG; /* headers of a never-ending body are out */
          c->due = now + 100;
        } else if (c->state == C_WRITE || c->state == C_HUGE) {
          if (c->close_after) {
            conn_close(c);
          } else {
            c->state = C_READ;
            if (c->in_len) try_request(c); /* a request that arrived meanwhile */
          }
        }
      }
    }
    if (pf[0].revents & POLLIN) {
      for (;;) {
        int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
        if (fd < 0) break;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (nc == capc) {
          capc = capc ? 2 * capc : 64;
          cs = realloc(cs, capc * sizeof *cs);
          if (!cs) return 3;
        }
        cs[nc++] = (conn){.fd = fd, .state = C_READ};
      }
    }
  }
  for (size_t i = 0; i < nc; i++) {
    if (cs[i].fd >= 0) close(cs[i].fd);
    free(cs[i].in);
    free(cs[i].out);
  }
  free(cs);
  free(pf);
  free(seen);
  close(ls);
  if (S.log) fclose(S.log);
  return 0;
}
