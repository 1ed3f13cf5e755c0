# Boot hart entry, and the RISC-V Linux Image header that U-Boot's booti
# checks. OpenSBI or booti enters here in S-mode with the MMU off:
# a0 = hart id, a1 = physical address of the device tree.
#
# The kernel is linked as a static PIE at LINK_BASE but runs wherever it was
# loaded (RAM base + text_offset: 0x80200000 on QEMU, 0x40200000 on a
# VisionFive 2): the first thing it does is apply its own R_RISCV_RELATIVE
# relocations by the difference. Until then only pc-relative addressing.

#ifndef LINK_BASE /* a test kernel links elsewhere: kernel/meson.build */
#define LINK_BASE 0x80200000 /* boot/kernel.ld: keep the two in step */
#endif
#define BOOT_STACK_SIZE 16384
#define R_RISCV_RELATIVE 3
#define SBI_LEGACY_PUTCHAR 1

    .section .text.entry, "ax"
    .option push
    .option norvc                   # the header's layout is fixed: no compressed jumps
    .option norelax
    .globl _start
_start:
    j real_start                    # code0
    .word 0                         # code1
    .dword 0x200000                 # text_offset
    .dword __kernel_end - _start    # image_size, bss included
    .dword 0                        # flags: little endian
    .word 0x2                       # version 0.2
    .word 0
    .dword 0
    .ascii "RISCV\0\0\0"            # magic (deprecated)
    .ascii "RSC\x05"                # magic2, the field U-Boot checks
    .word 0                         # no PE/COFF header
    .option pop

real_start:
    csrw sie, zero
    csrw satp, zero
    .option push
    .option norelax                 # gp is never set up: no gp relaxation
    # One hart boots. Firmware may send a second hart here (OpenSBI can let
    # a hart that is still in its own warm boot when we start it over HSM
    # run on to the next stage): it must not relocate, clear .bss or share
    # the boot stack again. It stops itself through SBI HSM, and
    # harts_start_others() starts it again at secondary_entry.
    lla t0, boot_lottery
    li t1, 1
    amoswap.w t1, t1, (t0)
    bnez t1, second_boot_hart
    lla t0, _start
    li t1, LINK_BASE
    sub s2, t0, t1                  # s2 = load address - link address
    slli t2, t0, 52                 # the low 12 bits of the load address
    bnez t2, misaligned             # page tables need page-aligned sections

    lla t0, __rela_start
    lla t1, __rela_end
1:  bgeu t0, t1, 2f
    ld t2, 8(t0)                    # r_info
    li t3, R_RISCV_RELATIVE
    bne t2, t3, bad_relocation
    ld t2, 0(t0)                    # r_offset (a link address)
    add t2, t2, s2
    ld t3, 16(t0)                   # r_addend (a link address)
    add t3, t3, s2
    sd t3, 0(t2)
    addi t0, t0, 24
    j 1b
2:
    lla sp, boot_stack_top
    lla t0, __bss_start
    lla t1, __bss_end
3:  bgeu t0, t1, 4f
    sd zero, 0(t0)
    addi t0, t0, 8
    j 3b
4:
    mv a2, s2
    # kmain(hart_id = a0, dtb = a1, relocation delta = a2) never returns.
    call kmain
    .option pop
5:  wfi
    j 5b

second_boot_hart:
    li a7, 0x48534D                 # SBI HSM
    li a6, 1                        # hart_stop: does not return
    ecall
6:  wfi
    j 6b

# Other harts, started by SBI HSM hart_start: MMU off, a0 = hart id,
# a1 = the index kmain gave it. The image is already relocated.
    .globl secondary_entry
    .balign 4
secondary_entry:
    csrw sie, zero
    csrw satp, zero
    lla sp, secondary_stacks
    addi t0, a1, 1
    li t1, BOOT_STACK_SIZE
    mul t0, t0, t1
    add sp, sp, t0                  # the top of stack number a1
    call secondary_main
6:  wfi
    j 6b

# Nothing is set up yet: say it through the SBI console and stop.
misaligned:
    lla s3, msg_misaligned
    j early_fail
bad_relocation:
    lla s3, msg_relocation
early_fail:
    lbu a0, 0(s3)
    beqz a0, 5b
    li a7, SBI_LEGACY_PUTCHAR
    ecall
    addi s3, s3, 1
    j early_fail

    .section .rodata.entry, "a"
msg_misaligned:
    .asciz "capframe: the kernel image was loaded at an address that is not 4 KiB aligned; load it at RAM base + text_offset (booti does)\r\n"
msg_relocation:
    .asciz "capframe: the kernel image has a relocation other than R_RISCV_RELATIVE; cannot start\r\n"

    .section .data.entry, "aw"
    .balign 4
boot_lottery:                       # 1 once a hart has taken the boot path (not .bss:
    .word 0                         # the winner clears that)

    .section .bss.boot_stack, "aw", @nobits
    .balign 16
    .globl boot_stack_bottom
boot_stack_bottom:
    .space BOOT_STACK_SIZE
    .globl boot_stack_top
boot_stack_top:
    .balign 16
secondary_stacks:                   # one per hart index 0..7 (0 unused)
    .space BOOT_STACK_SIZE * 8
