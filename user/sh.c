/* sh: a small interactive shell. Reads a line from the console (which does
 * not echo: the shell echoes what it reads, and handles backspace), splits
 * it on blanks, and runs the program of that name from the boot archive
 * with fork + exec + wait. Builtins: exit [N], help. Lines starting with
 * '#' are comments. At end of input (^D on an empty line, or a closed
 * stdin) sh exits 0, as `exit` does. A line longer than the buffer, or with
 * more words than exec takes, is refused with a message, never cut short. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capframe/user.h"

#define LINE_MAX_BYTES 512
#define MAX_ARGS 64 /* exec's limit (kMaxArgs in capframe/abi.h), the NULL not counted */

static void put(const char* s, int n) {
    write(1, s, n);
}

#define LINE_TOO_LONG (-2)

/* One line into buf (NUL-terminated, without the newline). Returns its
 * length, -1 at end of input with nothing typed, or LINE_TOO_LONG for a
 * line that did not fit (read to its end, nothing kept). */
static int read_line(char* buf, int cap) {
    int len = 0, over = 0;
    for (;;) {
        char c;
        if (read(0, &c, 1) <= 0) {
            if (len == 0) return -1;
            put("\n", 1);
            break;
        }
        if (c == '\n' || c == '\r') {
            put("\n", 1);
            break;
        }
        if (c == 0x7f || c == 0x08) { /* DEL or backspace: rub out one char */
            if (len > 0 && !over) {
                --len;
                put("\b \b", 3);
            }
            continue;
        }
        if (c == 0x04) { /* ^D on an empty line: end of input */
            if (len == 0) return -1;
            continue;
        }
        if (c == '\t') c = ' ';
        if ((unsigned char)c < 0x20) continue; /* other control characters */
        if (len < cap - 1) {
            buf[len++] = c;
            put(&c, 1);
        } else {
            over = 1;
        }
    }
    buf[len] = 0;
    return over ? LINE_TOO_LONG : len;
}

/* Splits line in place; returns argc, or -1 if there are too many words. */
static int split(char* line, char** argv) {
    int argc = 0;
    char* p = line;
    for (;;) {
        while (*p == ' ')
            ++p;
        if (*p == 0) break;
        if (argc == MAX_ARGS) return -1;
        argv[argc++] = p;
        while (*p && *p != ' ')
            ++p;
        if (*p) *p++ = 0;
    }
    argv[argc] = 0;
    return argc;
}

static void help(void) {
    printf("builtins:\n"
           "  exit [N]   leave the shell with status N (default 0); init ends\n"
           "             the system with it (so does end of input, with 0)\n"
           "  help       this text\n"
           "anything else runs the program of that name: `ls` lists them\n"
           "(`ls -a` also the malformed test files), `ps` the processes.\n");
}

static void run(char** argv) {
    int pid = fork();
    if (pid < 0) {
        printf("sh: fork failed\n");
        return;
    }
    if (pid == 0) {
        exec(argv[0], argv);
        printf("sh: %s: not found\n", argv[0]);
        exit(127);
    }
    int status = 0, w;
    while ((w = wait(&status)) >= 0 && w != pid) {
        /* not ours to report (cannot happen: orphans go to init) */
    }
    if (w < 0)
        printf("sh: [pid %d] lost\n", pid);
    else if (status != 0)
        printf("sh: [pid %d] exit status %d\n", pid, status);
}

int main(int argc, char** argv) {
    static char line[LINE_MAX_BYTES];
    static char* args[MAX_ARGS + 1];
    for (;;) {
        printf("$ ");
        fflush(stdout);
        int len = read_line(line, sizeof line);
        if (len == LINE_TOO_LONG) {
            printf("sh: line too long (at most %d bytes); not run\n", LINE_MAX_BYTES - 1);
            continue;
        }
        if (len < 0) exit(0);
        if (line[0] == '#') continue;
        int n = split(line, args);
        if (n < 0) {
            printf("sh: too many words (at most %d, the program included); not run\n", MAX_ARGS);
            continue;
        }
        if (n == 0) continue;
        if (strcmp(args[0], "exit") == 0) {
            char* end = 0;
            long status = n > 1 ? strtol(args[1], &end, 10) : 0;
            if (n > 2 || (n > 1 && (*end || end == args[1] || status < 0 || status > 255))) {
                printf("sh: exit takes one status from 0 to 255\n");
                continue;
            }
            exit((int)status);
        }
        if (strcmp(args[0], "help") == 0) {
            help();
            continue;
        }
        run(args);
    }
}
