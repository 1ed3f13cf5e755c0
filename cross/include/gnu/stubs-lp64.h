/* Capframe builds its kernel and programs with -mabi=lp64 (no FPU state in
 * the kernel). libstdc++'s header-only parts still include glibc's
 * <gnu/stubs.h>, and Debian's riscv64 glibc ships only the lp64d variant of
 * this file. It only lists unimplemented glibc functions, none of which a
 * freestanding build uses, so an empty one is correct here. */
