// isolation: the isolation suite. A task tries to break out of its own
// address space and capability table, and every attempt must fail: a system
// call or mm request answers an error, or the access kills only the
// attacker (a forked child that ends with wait status -1).
//
// Groups: kernel memory, devices, trampoline, trapframe and addresses at or
// beyond MAXVA, directly and as pointers in system calls and mm requests;
// its own text and rodata; another process's memory (copy-on-write, its
// private pages, frames shared by fork); every capability call on every
// slot; the endpoint to mm (rights, badges, forged messages); deleted and
// revoked slots; mm's mappings (bad addresses, mm-only regions, the break);
// privileged instructions.
//
// Each group runs in a fresh image of this program (the runner forks and
// execs "isolation -g N"), which counts its attempts and exits with
// (attempts << 16 | blocked). The runner checks that every frame is back
// after each group and after the whole suite (one more attempt each), and
// that each group ends within its time.
//
// Output is TAP: "ok N - group (n attempts)" / "not ok N - group ... # why"
// per group, a "# ..." line for each attempt that got through, the plan, and
//
//     isolation: A attempts, B blocked, A-B got through
//
// Exit status 0 iff every attempt was blocked (A == B).
//
// Allowed on purpose and not counted: vmprint of another pid (informational),
// kill of a process that is not one's child (xv6 semantics), and mm's
// FailAlloc test hook (it arms a failure for whichever allocation comes next).
//
// Files: isolation.h (constants, addresses, counting, helpers),
// isolation_memory.cpp (groups 1-5), isolation_caps.cpp (groups 6-10), and
// this file (the runner and main).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isolation.h"
#include "tap.h"

using namespace isolation;

namespace {

// ---- the runner ---------------------------------------------------------------

struct Group {
    const char* name;
    void (*fn)();
};

const Group kGroups[] = {
    {"kernel memory, devices, trampoline, trapframe, MAXVA and beyond: direct access",
     g_kernel_direct},
    {"kernel memory through system calls and mm requests", g_kernel_syscalls},
    {"own text and rodata: write, replace, execute heap/stack/data", g_own_text},
    {"another process's memory (copy-on-write, private pages, shared frames)", g_other_process},
    {"what an ended process leaves behind: recycled frames come back zeroed", g_leftovers},
    {"capability calls on every slot of the table and beyond", g_slot_sweep},
    {"the endpoint to mm: rights, badges, forged messages, other calls", g_endpoint},
    {"deleted, revoked and forged slots", g_deleted_slots},
    {"mm's mappings: bad addresses, mm-only regions, the break", g_mm_mappings},
    {"privileged instructions", g_privileged},
};

int g_total_attempts = 0, g_total_blocked = 0;

void result(bool ok, const char* name, int attempts, const char* why) {
    char line[160];
    snprintf(line, sizeof line, "%s (%d attempts)", name, attempts);
    tap_result(ok, line, why);
}

constexpr int kGroupCount = static_cast<int>(sizeof kGroups / sizeof kGroups[0]);

// "isolation -g N": group N in this process; the exit status says how it
// went (attempts << 16 | blocked).
[[noreturn]] void group_main(int index) {
    g_attempts = g_blocked = 0;
    kGroups[index].fn();
    fflush(stdout);
    if (g_attempts >= 1 << 15) exit(1); // does not fit the status
    exit(g_attempts << 16 | g_blocked);
}

// Each group runs in a fresh image of this program (fork, then exec): its
// text and data frames are its own, shared with nobody outside the group,
// so not even an attack that got through can reach the runner.
void run_group(int index) {
    const Group& g = kGroups[index];
    long before = freeframes();
    int pid = fork();
    if (pid == 0) {
        char prog[] = "isolation", flag[] = "-g", num[4];
        snprintf(num, sizeof num, "%d", index);
        char* argv[] = {prog, flag, num, nullptr};
        exec(prog, argv);
        printf("# exec of %s failed\n", prog);
        exit(1);
    }
    int attempts = 1, blocked = 0;
    char why[128] = "";
    if (pid < 0) {
        snprintf(why, sizeof why, "fork failed");
    } else {
        int st = 0;
        bool ended = wait_timeout(pid, kGroupTicks, &st);
        if (!ended) {
            snprintf(why, sizeof why, "did not finish in %d ticks", kGroupTicks);
        } else if (st <= 0 || (st >> 16) == 0) {
            snprintf(why, sizeof why, "the group's process ended with status %d", st);
        } else {
            attempts = st >> 16, blocked = st & 0xffff;
            if (blocked != attempts)
                snprintf(why, sizeof why, "%d got through", attempts - blocked);
        }
    }
    // Whatever the attacker did, every frame comes back.
    long after = frames_settle(before, 200);
    ++attempts;
    if (after == before) {
        ++blocked;
    } else {
        size_t used = strlen(why);
        snprintf(why + used, sizeof why - used, "%sframes lost: %ld", used ? "; " : "",
                 before - after);
        printf("# %s: %ld frames not back\n", g.name, before - after);
    }
    g_total_attempts += attempts, g_total_blocked += blocked;
    result(why[0] == 0, g.name, attempts, why);
}

// Grows our stack once, so that its growth does not count as a lost frame.
void warm_stack() {
    volatile char pad[16 * 1024];
    for (unsigned i = 0; i < sizeof pad; i += 512)
        pad[i] = 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc == 3 && strcmp(argv[1], "-g") == 0) {
        int index = atoi(argv[2]);
        if (index >= 0 && index < kGroupCount) group_main(index);
    }
    if (argc != 1) {
        printf("usage: isolation          (isolation -g N runs group N alone; its exit status is\n"
               "                           attempts << 16 | blocked)\n");
        return 2;
    }
    warm_stack();
    long start = freeframes();
    printf("# isolation: pid %d, %ld free frames, %d groups\n", getpid(), start, kGroupCount);
    for (int i = 0; i < kGroupCount; ++i)
        run_group(i);
    long end = frames_settle(start, 200);
    ++g_total_attempts;
    char why[64] = "";
    if (end == start)
        ++g_total_blocked;
    else
        snprintf(why, sizeof why, "frames lost: %ld", start - end);
    result(end == start, "every frame back after the suite", 1, why);
    (void)tap_done("isolation: groups");
    printf("isolation: %d attempts, %d blocked, %d got through\n", g_total_attempts,
           g_total_blocked, g_total_attempts - g_total_blocked);
    return g_total_attempts == g_total_blocked ? 0 : 1;
}
