/* test_llm_transport.c — the C transport (engine/llm/http.c) against the loopback server:
 * answers, retries on 429/5xx/resets/truncation, no retry on other 4xx, Retry-After, timeouts,
 * the response-size limit, the in-flight limit, cancellation and bad arguments. */
#include "harness.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SPRINT_LLM_TESTSERVER
#define SPRINT_LLM_TESTSERVER "sprint_llm_testserver"
#endif

typedef struct {
  pid_t pid;
  int port;
  char url[128];
} server;

/* Starts the loopback server (it ends by itself after 60 s if a test dies). */
static server server_start(const char *latency_ms) {
  server s = {0};
  int fd[2];
  cr_assert(pipe(fd) == 0);
  s.pid = fork();
  cr_assert(s.pid >= 0);
  if (s.pid == 0) {
    dup2(fd[1], 1);
    close(fd[0]);
    execl(SPRINT_LLM_TESTSERVER, "llm_testserver", "--latency-ms", latency_ms, "--max-seconds",
          "60", (char *)NULL);
    _exit(127);
  }
  close(fd[1]);
  char buf[32] = {0};
  ssize_t n = read(fd[0], buf, sizeof buf - 1);
  close(fd[0]);
  cr_assert(n > 0, "the loopback server did not start (%s)", SPRINT_LLM_TESTSERVER);
  s.port = atoi(buf);
  snprintf(s.url, sizeof s.url, "http://127.0.0.1:%d/v1/chat/completions", s.port);
  return s;
}

static void server_stop(server *s) {
  if (s->pid > 0) {
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
  }
}

static sp_http *client(int max_in_flight, int max_retries) {
  sp_http_config cfg;
  sp_http_config_default(&cfg);
  cfg.max_in_flight = max_in_flight;
  cfg.max_retries = max_retries;
  cfg.backoff_ms = 5;
  cfg.backoff_max_ms = 2000;
  cfg.timeout_ms = 5000;
  sp_http *h = NULL;
  cr_assert_eq(sp_http_new(&h, &cfg), SP_OK, "%s", sp_last_error());
  return h;
}

/* Submits body and polls (bounded) until it finishes; fills *r. */
static int64_t run_one(sp_http *h, const char *url, const char *body, sp_http_result *r) {
  int64_t id = 0;
  cr_assert_eq(sp_http_submit(h, &id, url, "Content-Type: application/json", body,
                              (int64_t)strlen(body), -1),
               SP_OK, "%s", sp_last_error());
  for (int i = 0; i < 400; i++) { /* at most ~40 s */
    int n = 0;
    int64_t done[4];
    cr_assert_eq(sp_http_poll(h, &n, done, 4, 100), SP_OK, "%s", sp_last_error());
    if (n) {
      cr_assert_eq(n, 1);
      cr_assert_eq(done[0], id);
      cr_assert_eq(sp_http_result_get(h, r, id), SP_OK);
      return id;
    }
  }
  cr_assert_fail("request never finished");
  return id;
}

Test(llm_transport, answer_status_headers_body) {
  server s = server_start("0");
  sp_http *h = client(4, 2);
  sp_http_result r;
  int64_t id = run_one(h, s.url, "{\"model\":\"m\",\"messages\":\"tag=t1\"}", &r);
  cr_expect_eq(r.state, SP_HTTP_DONE);
  cr_expect_eq(r.http_status, 200);
  cr_expect_eq(r.attempts, 1);
  cr_expect_str_eq(r.error, "");
  cr_expect(strstr(r.body, "\\\"tag\\\":\\\"t1\\\"") != NULL, "%s", r.body);
  cr_expect_eq(r.body_len, (int64_t)strlen(r.body));
  cr_expect(strstr(r.headers, "Content-Type: application/json") != NULL, "%s", r.headers);
  cr_expect(r.elapsed_ms >= r.last_attempt_ms);
  cr_expect_eq(sp_http_unfinished(h), 0);
  cr_expect_eq(sp_http_release(h, id), SP_OK);
  expect_error(sp_http_release(h, id), SP_EINVAL, "no request");
  sp_http_free(h);
  server_stop(&s);
}

Test(llm_transport, retries_429_5xx_reset_truncate_then_success) {
  server s = server_start("0");
  const char *bodies[] = {"tag=a fault=429*1,500*1,503*1", "tag=b fault=reset*1",
                          "tag=c fault=close*1", "tag=d fault=truncate*2"};
  const int attempts[] = {4, 2, 2, 3};
  for (int i = 0; i < 4; i++) {
    sp_http *h = client(4, 5); /* fresh connection per case: see test_llm_client.lua */
    sp_http_result r;
    run_one(h, s.url, bodies[i], &r);
    cr_expect_eq(r.state, SP_HTTP_DONE, "%s: %s", bodies[i], r.error);
    cr_expect_eq(r.attempts, attempts[i], "%s: %d attempts\n%s", bodies[i], r.attempts, r.log);
    int lines = 0;
    for (const char *p = r.log; *p; p++) lines += *p == '\n';
    cr_expect_eq(lines, attempts[i] - 1, "one log line per failed attempt:\n%s", r.log);
    sp_http_free(h);
  }
  server_stop(&s);
}

Test(llm_transport, other_4xx_are_not_retried) {
  server s = server_start("0");
  sp_http *h = client(4, 5);
  const char *codes[] = {"400", "401", "404"};
  for (int i = 0; i < 3; i++) {
    char body[64];
    snprintf(body, sizeof body, "tag=x fault=%s", codes[i]);
    sp_http_result r;
    run_one(h, s.url, body, &r);
    cr_expect_eq(r.state, SP_HTTP_FAILED);
    cr_expect_eq(r.http_status, atoi(codes[i]));
    cr_expect_eq(r.attempts, 1);
    cr_expect_eq(r.retryable, 0);
    cr_expect(strncmp(r.error, "HTTP ", 5) == 0 && strstr(r.error, codes[i]), "%s", r.error);
    cr_expect(strstr(r.body, "error") != NULL, "the error body is kept: %s", r.body);
  }
  sp_http_free(h);
  server_stop(&s);
}

Test(llm_transport, retries_run_out_and_retry_after_is_honoured) {
  server s = server_start("0");
  sp_http *h = client(4, 2);
  sp_http_result r;
  run_one(h, s.url, "tag=y fault=503", &r);
  cr_expect_eq(r.state, SP_HTTP_FAILED);
  cr_expect_eq(r.attempts, 3);
  cr_expect_eq(r.retryable, 1);
  cr_expect(strstr(r.error, "HTTP 503") && strstr(r.error, "gave up after 3 attempts"), "%s",
            r.error);
  run_one(h, s.url, "tag=z fault=429*1 retry_after=1", &r);
  cr_expect_eq(r.state, SP_HTTP_DONE);
  int delay = -1;
  const char *p = strstr(r.log, "retry in ");
  if (p) delay = atoi(p + 9);
  cr_expect(delay >= 1000 && delay <= 1100, "backoff 5 ms, Retry-After 1 s, chose %d ms: %s", delay,
            r.log);
  sp_http_free(h);
  server_stop(&s);
}

Test(llm_transport, timeouts_size_limit_and_dead_endpoint) {
  server s = server_start("0");
  sp_http_config cfg;
  sp_http_config_default(&cfg);
  cfg.max_retries = 1;
  cfg.backoff_ms = 5;
  cfg.timeout_ms = 300;
  cfg.max_response_bytes = 65536;
  sp_http *h = NULL;
  cr_assert_eq(sp_http_new(&h, &cfg), SP_OK);
  sp_http_result r;
  run_one(h, s.url, "tag=hang fault=hang", &r); /* a body that never ends */
  cr_expect_eq(r.state, SP_HTTP_FAILED);
  cr_expect_eq(r.attempts, 2);
  cr_expect(strstr(r.error, "imeout") || strstr(r.error, "timed out"), "%s", r.error);
  run_one(h, s.url, "tag=huge fault=huge", &r);
  cr_expect_eq(r.state, SP_HTTP_FAILED);
  cr_expect_eq(r.attempts, 1, "an oversized answer is not retried");
  cr_expect(strstr(r.error, "larger than 65536 bytes") != NULL, "%s", r.error);
  int port = s.port;
  server_stop(&s);
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/chat/completions", port);
  run_one(h, url, "tag=dead", &r);
  cr_expect_eq(r.state, SP_HTTP_FAILED);
  cr_expect_eq(r.http_status, 0);
  cr_expect_eq(r.retryable, 1);
  cr_expect(strstr(r.error, "onnect") != NULL, "%s", r.error);
  sp_http_free(h);
}

Test(llm_transport, in_flight_limit_and_many_requests) {
  server s = server_start("20");
  sp_http *h = client(3, 2);
  enum { N = 40 };
  int64_t ids[N];
  for (int i = 0; i < N; i++) {
    char body[64];
    snprintf(body, sizeof body, "tag=m%d", i);
    cr_assert_eq(sp_http_submit(h, &ids[i], s.url, NULL, body, (int64_t)strlen(body), -1), SP_OK);
  }
  cr_expect_eq(sp_http_unfinished(h), N);
  int finished = 0, most = 0;
  for (int k = 0; k < 2000 && finished < N; k++) {
    int n = 0;
    int64_t done[8];
    cr_assert_eq(sp_http_poll(h, &n, done, 8, 50), SP_OK);
    if (sp_http_on_wire(h) > most) most = sp_http_on_wire(h);
    for (int j = 0; j < n; j++) {
      sp_http_result r;
      cr_assert_eq(sp_http_result_get(h, &r, done[j]), SP_OK);
      int which = -1;
      for (int i = 0; i < N; i++)
        if (ids[i] == done[j]) which = i;
      cr_assert(which >= 0, "an unknown id came back");
      char want[32];
      snprintf(want, sizeof want, "\\\"tag\\\":\\\"m%d\\\"", which);
      cr_expect(strstr(r.body, want) != NULL, "request %d got %s", which, r.body);
      cr_expect_eq(sp_http_release(h, done[j]), SP_OK);
      finished++;
    }
  }
  cr_expect_eq(finished, N);
  cr_expect(most >= 1 && most <= 3, "on the wire at once: %d (limit 3)", most);
  cr_expect_eq(sp_http_unfinished(h), 0);
  sp_http_free(h);
  server_stop(&s);
}

Test(llm_transport, release_cancels_and_free_abandons) {
  server s = server_start("2000");
  sp_http *h = client(4, 0);
  int64_t a, b;
  cr_assert_eq(sp_http_submit(h, &a, s.url, NULL, "tag=c1", 6, -1), SP_OK);
  cr_assert_eq(sp_http_submit(h, &b, s.url, NULL, "tag=c2", 6, -1), SP_OK);
  int n = 0;
  int64_t done[2];
  cr_assert_eq(sp_http_poll(h, &n, done, 2, 10), SP_OK); /* on the wire now */
  cr_expect_eq(n, 0);
  sp_http_result r;
  cr_assert_eq(sp_http_result_get(h, &r, a), SP_OK);
  cr_expect_eq(r.state, SP_HTTP_PENDING);
  cr_expect_eq(sp_http_release(h, a), SP_OK);
  cr_expect_eq(sp_http_unfinished(h), 1);
  sp_http_free(h); /* b still running: abandoned, nothing leaks (ASan checks) */
  server_stop(&s);
}

Test(llm_transport, bad_arguments_are_errors) {
  sp_http_config cfg;
  sp_http_config_default(&cfg);
  sp_http *h = NULL;
  cfg.max_in_flight = 0;
  expect_error(sp_http_new(&h, &cfg), SP_EINVAL, "max_in_flight");
  cfg.max_in_flight = 4;
  cfg.timeout_ms = 0;
  expect_error(sp_http_new(&h, &cfg), SP_EINVAL, "timeouts");
  expect_error(sp_http_new(NULL, NULL), SP_EINVAL, "NULL output");
  cr_assert_eq(sp_http_new(&h, NULL), SP_OK);
  int64_t id;
  expect_error(sp_http_submit(h, &id, "ftp://x", NULL, "", 0, -1), SP_EINVAL, "http://");
  expect_error(sp_http_submit(h, &id, NULL, NULL, "", 0, -1), SP_EINVAL, "NULL");
  expect_error(sp_http_submit(h, &id, "http://x", NULL, NULL, 5, -1), SP_EINVAL, "NULL");
  sp_http_result r;
  expect_error(sp_http_result_get(h, &r, 12345), SP_EINVAL, "no request");
  int n;
  expect_error(sp_http_poll(h, &n, NULL, 3, 0), SP_EINVAL, "NULL");
  cr_expect_eq(sp_http_poll(h, &n, NULL, 0, 0), SP_OK, "nothing to do is fine");
  cr_expect_eq(n, 0);
  sp_http_free(h);
  sp_http_free(NULL);
}
