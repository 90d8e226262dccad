/* main.c — the `sprint` command: embeds LuaJIT, points package.path at the Lua library
 * (lua/sprint) and the cdef generated at build time, and dispatches subcommands: `run`,
 * `version` and `help` are built in; `sprint X ...` runs the Lua module sprint.cli.X. */
#include <lauxlib.h>
#include <lua.h>
#include <luajit.h>
#include <lualib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sprint.h"
#include "vmcheck_lua.h" /* generated from lua/sprint/vmcheck.lua */

#ifndef SPRINT_VERSION_STRING
#define SPRINT_VERSION_STRING "unknown"
#endif
#ifndef SPRINT_SOURCE_DIR
#define SPRINT_SOURCE_DIR "."
#endif
#ifndef SPRINT_BUILD_DIR
#define SPRINT_BUILD_DIR "build"
#endif

static void usage(FILE *f) {
  fputs("usage: sprint <command> [arguments]\n"
        "\n"
        "commands:\n"
        "  run RECIPE.lua [--set key=value ...] [--config FILE.lua] [--] [args ...]\n"
        "                 run a Lua recipe; --set overrides the recipe's sprint.config defaults\n"
        "                 (a config file returns a table and sits between the two)\n"
        "  version        print the sprint, LuaJIT and BLAS versions\n"
        "  help           print this message\n"
        "  data ...       prepare, inspect and verify datasets\n"
        "  llm ...        check the LLM endpoint, report the ledger\n"
        "  show-session RUN_DIR SESSION [--set seed=N]\n"
        "                 a test session of a recipes/sprint.lua run: its items, predicted\n"
        "                 intents and the target's rank with and without them\n"
        "  report RUN_DIR rebuild a finished run directory's tables, figures and index.html\n"
        "  <name> ...     run the Lua subcommand lua/sprint/cli/<name>.lua, if it exists\n"
        "\n"
        "environment: SPRINT_LUA_DIR (Lua library, default " SPRINT_SOURCE_DIR "/lua),\n"
        "             SPRINT_BUILD_DIR (generated cdef, default " SPRINT_BUILD_DIR ")\n",
        f);
}

/* Message handler for lua_pcall: the error plus a traceback, as lua.c does. */
static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

static const char *env_or(const char *name, const char *fallback) {
  const char *v = getenv(name);
  return v && *v ? v : fallback;
}

/* A Lua state with the standard libraries, package.path set to find `require "sprint"` and
 * the generated `sprint.cdef`, and a global SPRINT_CLI = {version=, lua_dir=, build_dir=}. */
static lua_State *new_state(void) {
  lua_State *L = luaL_newstate();
  if (!L) {
    fputs("sprint: cannot create the Lua state (out of memory)\n", stderr);
    return NULL;
  }
  luaL_openlibs(L);
  const char *lua_dir = env_or("SPRINT_LUA_DIR", SPRINT_SOURCE_DIR "/lua");
  const char *build_dir = env_or("SPRINT_BUILD_DIR", SPRINT_BUILD_DIR);
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s/lua/?.lua;%s", lua_dir, lua_dir, build_dir,
                  lua_tostring(L, -1));
  lua_setfield(L, -3, "path");
  lua_pop(L, 2);

  lua_newtable(L);
  lua_pushstring(L, SPRINT_VERSION_STRING);
  lua_setfield(L, -2, "version");
  lua_pushstring(L, lua_dir);
  lua_setfield(L, -2, "lua_dir");
  lua_pushstring(L, build_dir);
  lua_setfield(L, -2, "build_dir");
  lua_pushstring(L, SPRINT_SOURCE_DIR);
  lua_setfield(L, -2, "source_dir");
  lua_newtable(L);
  lua_setfield(L, -2, "set");
  lua_newtable(L);
  lua_setfield(L, -2, "args");
  lua_setglobal(L, "SPRINT_CLI");
  return L;
}

/* Appends s to the array at the top of the stack. */
static void append(lua_State *L, const char *s) {
  lua_pushstring(L, s);
  lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
}

/* The VM self-check (lua/sprint/vmcheck.lua) in a Lua state of its own, so its traces never
 * touch the recipe's: 0 when the VM is sound, else 1 with the message in msg. The description
 * of the VM goes to what (for `sprint version`). */
static int vm_selfcheck(char *msg, size_t msg_len, char *what, size_t what_len) {
  static const char *script =
      "local v = ...\n"
      "local ok, why = v.check()\n"
      "return ok, why or '', (v.describe())\n";
  msg[0] = what[0] = '\0';
  lua_State *L = luaL_newstate();
  if (!L) {
    snprintf(msg, msg_len, "cannot create a Lua state for the VM self-check");
    return 1;
  }
  luaL_openlibs(L);
  int bad = 1;
  /* the module comes from the binary (vmcheck_lua.h), not from a Lua path that a user or a
   * test may point elsewhere */
  if (luaL_loadbuffer(L, vmcheck_lua, sizeof vmcheck_lua - 1, "=vmcheck.lua") != 0 ||
      lua_pcall(L, 0, 1, 0) != 0 || luaL_loadstring(L, script) != 0 ||
      (lua_insert(L, -2), lua_pcall(L, 1, 3, 0)) != 0) {
    snprintf(msg, msg_len, "the VM self-check did not run: %s", lua_tostring(L, -1));
  } else {
    bad = !lua_toboolean(L, -3);
    snprintf(msg, msg_len, "%s", lua_tostring(L, -2));
    snprintf(what, what_len, "%s", lua_tostring(L, -1));
  }
  lua_close(L);
  return bad;
}

/* sprint run RECIPE.lua [--set k=v ...] [--config FILE] [--] [args ...] */
static int cmd_run(int argc, char **argv) {
  lua_State *L = new_state();
  if (!L) return 1;
  lua_getglobal(L, "SPRINT_CLI");
  int cli = lua_gettop(L);
  lua_getfield(L, cli, "set");
  int set = lua_gettop(L);
  lua_getfield(L, cli, "args");
  int args = lua_gettop(L);
  const char *recipe = NULL;
  int rest = 0; /* after "--": everything is a recipe argument */
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!rest && strcmp(a, "--") == 0) {
      rest = 1;
    } else if (!rest && (strcmp(a, "--set") == 0 || strncmp(a, "--set=", 6) == 0)) {
      const char *kv = a[5] == '=' ? a + 6 : (i + 1 < argc ? argv[++i] : NULL);
      const char *eq = kv ? strchr(kv, '=') : NULL;
      if (!eq || eq == kv) {
        fprintf(stderr, "sprint run: --set needs key=value, got '%s'\n", kv ? kv : "");
        lua_close(L);
        return 2;
      }
      lua_pushlstring(L, kv, (size_t)(eq - kv));
      lua_pushstring(L, eq + 1);
      lua_settable(L, set); /* a repeated key: the last one wins */
    } else if (!rest && (strcmp(a, "--config") == 0 || strncmp(a, "--config=", 9) == 0)) {
      const char *file = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
      if (!file || !*file) {
        fputs("sprint run: --config needs a file\n", stderr);
        lua_close(L);
        return 2;
      }
      lua_pushstring(L, file);
      lua_setfield(L, cli, "config_file");
    } else if (!recipe) {
      recipe = a;
    } else {
      lua_pushvalue(L, args);
      append(L, a);
      lua_pop(L, 1);
    }
  }
  if (!recipe) {
    fputs("sprint run: no recipe given\n", stderr);
    usage(stderr);
    lua_close(L);
    return 2;
  }
  lua_pushstring(L, recipe);
  lua_setfield(L, cli, "recipe");

  /* The global `arg`, as the luajit command sets it: arg[0] the script, arg[1..] its args. */
  int nargs = (int)lua_objlen(L, args);
  lua_createtable(L, nargs, 1);
  lua_pushstring(L, recipe);
  lua_rawseti(L, -2, 0);
  for (int i = 1; i <= nargs; i++) {
    lua_rawgeti(L, args, i);
    lua_rawseti(L, -2, i);
  }
  lua_setglobal(L, "arg");

  lua_pushcfunction(L, traceback);
  int handler = lua_gettop(L);
  int status = luaL_loadfile(L, recipe);
  if (status != 0) {
    fprintf(stderr, "sprint: cannot load recipe: %s\n", lua_tostring(L, -1));
    lua_close(L);
    return 1;
  }
  for (int i = 1; i <= nargs; i++) lua_rawgeti(L, args, i);
  status = lua_pcall(L, nargs, 0, handler);
  if (status != 0) {
    fflush(stdout);
    fprintf(stderr, "sprint: %s\n", lua_tostring(L, -1));
    lua_close(L);
    return 1;
  }
  fflush(stdout);
  lua_close(L);
  return 0;
}

static int cmd_version(void) {
  char msg[1024], what[256];
  int bad = vm_selfcheck(msg, sizeof msg, what, sizeof what);
  printf("sprint %s (libsprint %s)\n", SPRINT_VERSION_STRING, sp_version());
  printf("vm: %s, built against %s%s; nested-pairs self-check (LuaJIT #827): %s\n", what,
         LUAJIT_VERSION,
#ifdef OPENRESTY_LUAJIT
         " (OpenResty headers)",
#else
         "",
#endif
         bad ? "FAILED" : "passed");
  printf("blas: %s\n", sp_blas_info());
  const char *policy = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
  if (policy)
    printf("openmp: wait policy %s (OMP_WAIT_POLICY)\n", policy);
  else
    printf("openmp: threads spin %s rounds, then sleep (GOMP_SPINCOUNT%s)\n", spin ? spin : "300000",
           spin && strcmp(spin, "30000") == 0 ? "; sprint's default: never spin long against another process" : "");
  return 0;
}

/* `sprint NAME args...`: runs the Lua module sprint.cli.NAME (a '-' in NAME is '_' in the
 * module's name: show-session is sprint.cli.show_session), which returns a function
 * main(args) -> exit code (nil means 0). Returns -1 when no such module exists. */
static const char *lua_dispatch =
    "local name, args = ...\n"
    "if not name:match('^[%w_%-]+$') then return -1 end\n"
    "local mod = 'sprint.cli.' .. name:gsub('%-', '_')\n"
    "if not package.searchpath(mod, package.path) then return -1 end\n"
    "SPRINT_CLI.command = name\n"
    "SPRINT_CLI.args = args\n"
    "local main = require(mod)\n"
    "if type(main) == 'table' then main = main.main end\n"
    "if type(main) ~= 'function' then error(mod .. ' must return a function main(args)') end\n"
    "local rc = main(args)\n"
    "return type(rc) == 'number' and rc or (rc == false and 1 or 0)\n";

static int cmd_lua(const char *name, int argc, char **argv) {
  lua_State *L = new_state();
  if (!L) return 1;
  lua_pushcfunction(L, traceback);
  int handler = lua_gettop(L);
  if (luaL_loadstring(L, lua_dispatch) != 0) {
    fprintf(stderr, "sprint: %s\n", lua_tostring(L, -1));
    lua_close(L);
    return 1;
  }
  lua_pushstring(L, name);
  lua_createtable(L, argc, 0);
  for (int i = 0; i < argc; i++) append(L, argv[i]);
  if (lua_pcall(L, 2, 1, handler) != 0) {
    fflush(stdout);
    fprintf(stderr, "sprint %s: %s\n", name, lua_tostring(L, -1));
    lua_close(L);
    return 1;
  }
  int rc = (int)lua_tointeger(L, -1);
  fflush(stdout);
  lua_close(L);
  if (rc == -1) {
    fprintf(stderr, "sprint: unknown command '%s'\n", name);
    usage(stderr);
    return 2;
  }
  return rc;
}

/* OpenMP's worker threads wait by spinning (libgomp spins 300,000 rounds before it sleeps; it
 * reads its settings from the environment when it loads, before main). When another process
 * keeps the cores busy they spin against it: a 2-thread SASRec epoch on Beauty took 6.2 s
 * against 1.8 s on 1 thread under two busy loops (tools/bench contended). Sleeping at once
 * (OMP_WAIT_POLICY=PASSIVE) fixes that (1.7 s vs 1.6 s) but costs ~15 % on a quiet machine
 * (BERT4Rec's epoch); a short spin, 30,000 rounds, keeps the quiet speed and gave 2.3 s vs
 * 1.9 s under the load. So unless the user chose (OMP_WAIT_POLICY or GOMP_SPINCOUNT), sprint
 * sets GOMP_SPINCOUNT=30000 and starts itself again, once. */
static void bounded_spin(char **argv) {
  if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
  if (setenv("GOMP_SPINCOUNT", "30000", 1) != 0) return;
  execv("/proc/self/exe", argv);
  /* no re-exec (no /proc): go on with libgomp's default; results are the same either way */
}

int main(int argc, char **argv) {
  bounded_spin(argv);
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) return cmd_version();
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
    usage(stdout);
    return 0;
  }
  /* Refuse to run anything on a VM that miscompiles what the LLM cache keys are made with. */
  /* SPRINT_VM_CHECK=off skips it, for the tests that show what the guards behind it catch. */
  char msg[1024], what[256];
  const char *vm_check = getenv("SPRINT_VM_CHECK");
  if (vm_check && strcmp(vm_check, "off") == 0) {
    fputs("sprint: warning: the VM self-check is off (SPRINT_VM_CHECK=off)\n", stderr);
  } else if (vm_selfcheck(msg, sizeof msg, what, sizeof what)) {
    fprintf(stderr, "sprint: refusing to run: %s\n", msg);
    return 1;
  }
  if (strcmp(cmd, "run") == 0) return cmd_run(argc - 2, argv + 2);
  return cmd_lua(cmd, argc - 2, argv + 2);
}
