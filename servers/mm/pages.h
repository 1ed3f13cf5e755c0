// Pages of processes: mapping fresh, shared and copied frames into address
// spaces (with the page tables the kernel asks for), mm's windows onto
// frames it fills or reads, demand-zero and copy-on-write, and copies
// between mm and a process's memory.
#pragma once

#include <cstdint>

#include "buddy.h"
#include "capframe/abi.h"
#include "proc.h"
#include "result.h"

namespace capframe::mm {

inline constexpr uint64_t kScratchVa = 0x3000000000; // mm's windows onto frames it fills or reads
inline constexpr uint64_t kScratchSrcVa = kScratchVa + kPage;
inline constexpr uint64_t kHeapTop = abi::kStackGuardVa;

// Maps `frame` in an address space, donating page-table pages as the kernel
// asks for them (charged to `owner`, recorded for teardown).
Result<void> map_with_tables(Proc* owner, uint64_t frame, uint64_t as, uint64_t va,
                             uint64_t rights);

// Donates the page-table page the kernel asks for on the way to va in `as`
// (a Map failed with NeedTable), charged to owner.
Result<void> donate_table(Proc* owner, uint64_t as, uint64_t va);

// mm's windows onto a frame: `slot` (a capability that is not mapped
// anywhere) is mapped at va until unwindow(); null if it cannot be.
void* window(uint64_t slot, uint64_t va, bool writable);
void unwindow(uint64_t slot);

// Fresh pages for p, filled through mm's window and mapped in p. Each
// add() is one kernel call (a batch): the previous page's window goes, that
// page is mapped in p (and recorded), and the new page's window is mapped;
// finish() places the last one. A page not placed goes back (also when the
// filler goes out of scope); on error p has exactly the pages placed.
class PageFiller {
  public:
    explicit PageFiller(Proc* p, bool from_reserve = false, bool through_copy = false)
        : p_(p), from_reserve_(from_reserve), through_copy_(through_copy) {}
    ~PageFiller();
    PageFiller(const PageFiller&) = delete;
    PageFiller& operator=(const PageFiller&) = delete;
    // A page at va: zeroed, `len` bytes of src at offset `at`.
    Result<void> add(uint64_t va, uint64_t flags, const uint8_t* src, uint64_t len,
                     uint64_t at = 0);
    Result<void> finish();

  private:
    Result<void> run(Block next);
    Proc* p_;
    bool from_reserve_, through_copy_;
    bool pending_ = false, window_ok_ = false;
    Block b_{};
    uint64_t va_ = 0, flags_ = 0;
};

// A fresh page at va in p: zeroed, or `len` bytes of src at offset `at`.
// from_reserve: a frame sbrk promised. through_copy: mapped through a copy
// of its capability (so that revoking the frame removes the mapping).
Result<void> new_page(Proc* p, uint64_t va, uint64_t flags, const uint8_t* src, uint64_t len,
                      uint64_t at = 0, bool from_reserve = false, bool through_copy = false);
// Shares frame `idx` into p at va (fork): through a new copy of its capability.
Result<void> share_page(Proc* p, uint64_t va, uint64_t flags, uint64_t idx);
// A write fault on a copy-on-write page (mapping i): the last sharer takes
// the frame over; otherwise the page is copied.
Result<void> break_cow(Proc* p, uint32_t i);
uint64_t rights_of(uint64_t flags);

bool in_heap(const Proc* p, uint64_t va);
bool in_stack(uint64_t va);
// Makes the page at va present (and writable if asked) in p, as a fault
// would: demand-zero heap and stack, copy-on-write. Fault if va is not p's.
Result<uint32_t> touch(Proc* p, uint64_t va, bool write);

// Copies between mm and p's memory, a page at a time through a window.
Result<void> copy_user(Proc* p, uint64_t va, void* buf, uint64_t n, bool to_user);
// A NUL-terminated string of at most max - 1 bytes from p (TooMany if longer).
Result<uint64_t> copy_string(Proc* p, uint64_t va, char* buf, uint64_t max);

} // namespace capframe::mm
