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
