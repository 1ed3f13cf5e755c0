// The boot-time process: one user address space with the trampoline, a
// trapframe, its program and stack, and a kernel stack with a guard page.
// (From the next issue on, the memory server builds processes from donated
// frames; the kernel keeps only the mechanism.)
#pragma once

#include <cstddef>

#include "arch/riscv64/csr.h"
#include "arch/riscv64/trapframe.h"
#include "capframe/abi.h"
#include "lib/result.h"
#include "vm.h"

namespace capframe {

struct Process {
    int pid = 0;
    char name[24] = {};
    PhysAddr root;            // user page table
    PhysAddr trapframe_pa;    // reached by the kernel through the identity map
    uint64_t kstack_slot = 0; // kernel stack at kstack_bottom(slot)
    bool running = false;
    arch::TrapFrame* trapframe() const {
        return reinterpret_cast<arch::TrapFrame*>(trapframe_pa.value());
    }
    uint64_t satp() const { return arch::make_satp_sv39(root.value()); }
};

// Lists the programs linked into the kernel (tools/embed_user.py).
int embedded_program_count();
const char* embedded_program_name(int i);

// Creates process `pid` running the embedded program `name`. NotFound if no
// such program; NoMemory if boot RAM ran out (nothing is kept then? see .cpp).
Result<Process*> create_first_process(PageTable& kernel, const char* name);
Process* current_process();

// Checked access to user memory: every byte must be mapped in the process's
// table with U and R set. Fault otherwise, and nothing is copied.
Result<void> check_user_readable(const Process& p, uint64_t va, size_t n);
Result<void> copy_from_user(const Process& p, void* dst, uint64_t src_va, size_t n);

// A user pointer: a virtual address in some process, touched only through
// the checked copy helpers above.
template <class T>
class UserPtr {
  public:
    explicit UserPtr(uint64_t va) : va_(va) {}
    uint64_t va() const { return va_; }

  private:
    uint64_t va_;
};

} // namespace capframe
