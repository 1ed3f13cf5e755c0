/* ls: lists the programs in the boot archive, one per line. The archive
 * also holds deliberately malformed executables ("bad-..."), for usertests;
 * `ls -a` lists those too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capframe/user.h"

int main(int argc, char** argv) {
    int all = 0;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "-a") == 0) {
            all = 1;
        } else {
            printf("usage: ls [-a]\n");
            return 1;
        }
    }
    char name[64];
    for (int i = 0; program_name(i, name, sizeof name) == 0; ++i) {
        if (!all && strncmp(name, "bad-", 4) == 0) continue;
        printf("%s\n", name);
    }
    return 0;
}
