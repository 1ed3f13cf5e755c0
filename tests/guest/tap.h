/* The guest test suites' one TAP reporter (C and C++, header only: each
 * suite includes it once, in one file: its counters are per file).
 *
 *   tap_result(ok, name, why)   "ok N - name" or "not ok N - name # why"
 *   tap_check(ok, what)         the same without a reason
 *   tap_done(suite)             "1..N" and "SUITE: P passed, F failed";
 *                               returns the failures (the exit status)
 *
 * With TAP_WITH_PROCESSES defined before the include (programs built with
 * picolibc and capframe/user.h), a case can run in a child of its own:
 *
 *   tap_case(name, fn, expect, settle)
 *       runs fn() in a child; expect TAP_EXIT_0 (it must return 0) or
 *       TAP_KILLED (it must be killed, status -1); the free frames must come
 *       back to where they were (waiting up to `settle` ticks for orphans).
 *
 * With TAP_WITH_COMMANDS defined (picolibc and capframe/user.h), a program
 * of subcommands ("kcheck gap 150 1", "stress smp 1 4") is a table:
 *
 *   tap_command cmds[] = {{"gap", run_gap, TAP_SUITE}, ...};
 *   return tap_main("kcheck", "kcheck gap [MS] [WRITERS] | ...", cmds, n, argc, argv);
 *
 *       runs the row argv[1] names with the words from it on (argv[0] is
 *       the name; tap_number(argc, argv, i, fallback) reads the i-th as a
 *       number); a TAP_SUITE row that returns 0 ends with the plan and
 *       tap_done("PROG: NAME"). An unknown name, or a row that returns
 *       TAP_USAGE, prints "usage: USAGE" and returns 2.
 *
 * Freestanding programs print through libsys: define TAP_PRINTF sys::printf
 * before the include. tools/qemu.py numbers and counts the results. */
#pragma once

#ifndef TAP_PRINTF
#include <stdio.h>
#define TAP_PRINTF printf
#endif

static int tap_run_count, tap_fail_count;

static inline void tap_result(int ok, const char* name, const char* why) {
    ++tap_run_count;
    if (ok) {
        TAP_PRINTF("ok %d - %s\n", tap_run_count, name);
    } else {
        ++tap_fail_count;
        TAP_PRINTF("not ok %d - %s # %s\n", tap_run_count, name, why && why[0] ? why : "failed");
    }
}

static inline void tap_check(int ok, const char* what) {
    tap_result(ok, what, "");
}

static inline int tap_failures(void) {
    return tap_fail_count;
}

static inline int tap_done(const char* suite) {
    TAP_PRINTF("1..%d\n", tap_run_count);
    TAP_PRINTF("%s: %d passed, %d failed\n", suite, tap_run_count - tap_fail_count, tap_fail_count);
    return tap_fail_count ? 1 : 0;
}

#ifdef TAP_WITH_PROCESSES
#include <string.h>

#include "capframe/user.h"

enum { TAP_EXIT_0 = 0, TAP_KILLED = 1 };

static inline void tap_case(const char* name, int (*fn)(void), int expect, int settle) {
    char reason[128];
    reason[0] = 0;
    long before = freeframes();
    int pid = fork();
    if (pid < 0) {
        snprintf(reason, sizeof reason, "fork failed");
    } else if (pid == 0) {
        exit(fn());
    } else {
        int st = 0;
        if (wait_for(pid, &st) != pid)
            snprintf(reason, sizeof reason, "wait failed");
        else if (expect == TAP_KILLED && st != -1)
            snprintf(reason, sizeof reason, "not killed: exit status %d", st);
        else if (expect != TAP_KILLED && st == -1)
            snprintf(reason, sizeof reason, "killed");
        else if (expect != TAP_KILLED && st != 0)
            snprintf(reason, sizeof reason, "exit status %d", st);
        long after = settle ? frames_settle(before, settle) : freeframes();
        if (after != before) {
            size_t used = strlen(reason);
            snprintf(reason + used, sizeof reason - used, "%sframes lost: %ld", used ? "; " : "",
                     before - after);
        }
    }
    tap_result(reason[0] == 0, name, reason);
}
#endif

#ifdef TAP_WITH_COMMANDS
#include <stdio.h>
#include <string.h>

#include "capframe/user.h"

enum { TAP_USAGE = -2, TAP_PLAIN = 0, TAP_SUITE = 1 };

typedef struct {
    const char* name;
    int (*run)(int argc, char** argv); /* argv[0]: the name */
    int kind;                          /* TAP_SUITE or TAP_PLAIN */
} tap_command;

/* The i-th word as a positive number (arg_number): `fallback` if there is
 * none, -1 if it is not one. */
static inline long tap_number(int argc, char** argv, int i, long fallback) {
    return arg_number(i < argc ? argv[i] : NULL, fallback);
}

static inline int tap_main(const char* prog, const char* usage, const tap_command* cmds, int n,
                           int argc, char** argv) {
    for (int i = 0; argc > 1 && i < n; ++i) {
        if (strcmp(cmds[i].name, argv[1]) != 0) continue;
        int r = cmds[i].run(argc - 1, argv + 1);
        if (r == TAP_USAGE) break;
        if (r != 0 || cmds[i].kind != TAP_SUITE) return r;
        char suite[64];
        snprintf(suite, sizeof suite, "%s: %s", prog, cmds[i].name);
        return tap_done(suite);
    }
    TAP_PRINTF("usage: %s\n", usage);
    return 2;
}
#endif
