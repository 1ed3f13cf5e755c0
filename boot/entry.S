# Boot hart entry. OpenSBI (or U-Boot's booti) enters here in S-mode with the
# MMU off: a0 = hart id, a1 = physical address of the device tree.
#
# Only pc-relative addressing (lla) is used, so this code runs at whatever
# address it was loaded; nothing here assumes the link address.

#define BOOT_STACK_SIZE 16384

    .section .text.entry, "ax"
    .globl _start
_start:
    csrw sie, zero
    csrw satp, zero
    .option push
    .option norelax
    lla sp, boot_stack_top          # gp is never set up: no gp relaxation
    .option pop

    lla t0, __bss_start
    lla t1, __bss_end
1:  bgeu t0, t1, 2f
    sd zero, 0(t0)
    addi t0, t0, 8
    j 1b
2:
    # kmain(hart_id = a0, dtb = a1) never returns.
    call kmain
3:  wfi
    j 3b

    .section .bss.boot_stack, "aw", @nobits
    .balign 16
    .globl boot_stack_bottom
boot_stack_bottom:
    .space BOOT_STACK_SIZE
    .globl boot_stack_top
boot_stack_top:
