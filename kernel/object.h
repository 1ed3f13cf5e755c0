// Kernel objects and capabilities. Every object after boot lives in a frame
// the memory server donated (seL4's retype); the kernel reaches it through the
// identity map. Layouts are fixed and asserted.
#pragma once

#include <cstddef>
#include <cstdint>

#include "addr.h"
#include "arch/riscv64/trapframe.h"
#include "capframe/abi.h"

namespace capframe {

using abi::ObjType;

struct Thread;
struct Endpoint;
struct AddressSpace;

// One capability slot. Capabilities derived from one another form the
// mapping database (MDB): one global doubly linked list in which every
// capability is followed by its descendants, each one level deeper (seL4's
// ordering), so "all capabilities derived from C" is the run after C with
// depth > C.depth.
struct Cap {
    ObjType type;
    uint8_t rights;    // abi::kRight*
    uint8_t order;     // Frame / CapTable: the run is 2^order pages
    uint8_t flags;     // abi::kCapMapped / kCapDonated / kCapSplit
    uint32_t depth;    // MDB depth
    uint64_t object;   // physical address of the frame run or object
    uint64_t badge;    // Endpoint caps: delivered with each message
    uint64_t map_root; // Frame: root table of the mapping or donated table, 0 if none
    uint64_t map_va;   // Frame: where it is mapped / the VA a donated table serves
    Cap* prev;
    Cap* next;
    uint8_t donated_as; // kDonated*: what the kernel uses a donated frame for
    uint8_t table_level;
    uint16_t kstack_slot;
    // Frame: the kernel knows the whole run reads zero. Set where the kernel
    // zeroes it (an object deleted, an empty table released, a kernel stack
    // given back, FrameZero), cleared before anything could write it (a
    // mapping, a copy, a batch page, a split's parent, an object or table
    // or stack made in it). Retype, MapTable, ThreadSetStack and FrameZero
    // then need not zero it (again): fork+exit made each object's frame
    // zero twice.
    uint8_t zeroed;
    uint8_t pad[3];

    bool empty() const { return type == ObjType::Null; }
    bool has(uint8_t r) const { return (rights & r) == r; }
};
static_assert(sizeof(Cap) == 64, "a capability slot is 64 bytes");
static_assert(offsetof(Cap, object) == 8 && offsetof(Cap, prev) == 40);
static_assert(abi::kCapSlotsPerPage * sizeof(Cap) == kPageSize);

inline constexpr uint8_t kDonatedObject = 1;
inline constexpr uint8_t kDonatedTable = 2;
inline constexpr uint8_t kDonatedKstack = 3;

// A capability table is a run of 2^order pages of slots. Slot 0 is never a
// capability (slot number 0 means "none"); it holds the table's header.
//
// A capability space of two levels (mm's, built at boot): a root table of
// one page whose header points to a directory of leaf tables. Slot s is
// slot s % 64 of the leaf at directory index s / 64; offset 0 of every leaf
// is that leaf's header, never a capability. Entry 0 is the root itself.
// Leaves are one-page CapTables that the owner retypes from its own frames
// and attaches (Sys::CapAttach) at run time; slots never move, so the MDB's
// pointers to them stay valid, and a lookup is two loads.
struct CapTableHeader {
    uint64_t slot_count;
    uint32_t bound_threads; // threads using this as their table
    uint32_t dir_entries;   // a root: directory entries (0: a flat table)
    uint64_t dir;           // a root: physical address of the directory (uint64_t per leaf)
    uint64_t attached_to;   // a leaf: the directory it is attached in (0: none)
    uint32_t attached_index;
    uint8_t boot_leaf; // attached by the kernel at boot: never detached
    uint8_t pad[3];
    uint64_t reserved[3];
};
static_assert(sizeof(CapTableHeader) == sizeof(Cap));

inline constexpr uint64_t kLeafShift = 6; // 64 slots per leaf: one page
inline constexpr uint64_t kLeafSlots = uint64_t{1} << kLeafShift;

struct CapTableRef {
    Cap* slots = nullptr;    // slots[0] is the header (of the root, if two-level)
    uint64_t count = 0;      // slot numbers below this can be valid
    uint64_t* dir = nullptr; // two-level: leaf table addresses (0: none attached)
    CapTableHeader* header() const { return reinterpret_cast<CapTableHeader*>(slots); }
    // The slot `slot` names, or null if it names none (0, a leaf's header,
    // out of range, no leaf attached there).
    [[gnu::always_inline]] Cap* slot(uint64_t slot) const {
        if (slot == 0 || slot >= count) return nullptr;
        if (!dir) return &slots[slot];
        uint64_t leaf = dir[slot >> kLeafShift];
        if (!leaf || (slot & (kLeafSlots - 1)) == 0) return nullptr;
        return reinterpret_cast<Cap*>(leaf) + (slot & (kLeafSlots - 1));
    }
};

// swtch() saves and restores these (callee-saved registers).
struct Context {
    uint64_t ra, sp, s[12];
};

enum class ThreadState : uint8_t {
    Inactive,       // created, not started (or suspended)
    Ready,          // in the run queue or running
    BlockedCall,    // waiting in an endpoint's send queue
    BlockedRecv,    // waiting in an endpoint's receive queue
    BlockedReply,   // delivered its call, waiting for the reply
    Sleeping,       // in the sleep list until wake_tick
    BlockedSuspend, // waits for suspend_target to leave the hart it runs on
};

// A thread: the trapframe first (the page is mapped at TRAPFRAME in its
// address space, without U), then the control block.
struct Thread {
    arch::TrapFrame tf;
    Context ctx;
    uint32_t id;
    ThreadState state;
    bool fault_call; // the pending call is a fault message sent on its behalf
    uint8_t pad[2];
    int32_t on_hart; // index of the hart running it, or -1
    AddressSpace* as;
    CapTableRef table;
    Endpoint* fault_ep;
    uint64_t fault_badge;
    Cap* kstack_cap; // the donated frame holding its kernel stack, or null
    uint64_t kstack_slot;
    Thread* queue_next;  // run queue or endpoint queue
    Endpoint* queued_on; // the endpoint whose queue holds it
    Thread* reply_to;    // the caller this thread owes a reply
    Thread* replier;     // the thread that owes this one a reply
    uint64_t call_badge; // badge of the cap the pending call was made through
    uint64_t msg[4];     // message being sent by a blocked caller
    uint64_t wake_tick;  // Sleeping: the tick at which it becomes ready
    Thread* owed_head;   // callers whose calls it received and owes a reply
    Thread* owed_prev;   // BlockedReply: its place in its replier's owed list
    Thread* owed_next;
    Thread* suspend_waiter; // suspended while on a hart: who waits for it to leave
    Thread* suspend_target; // BlockedSuspend: the thread it waits for
    // Floating point (kernel/trap.cpp): off until the thread's first FP
    // instruction; then its registers live here whenever it is in the kernel.
    uint64_t fp[33]; // f0..f31, fcsr (arch/riscv64/fpu.S)
    bool fp_on;      // the thread uses the FPU (user mode runs with FS != Off)
    uint8_t fp_pad[3];
    int32_t fp_hart; // the hart whose FP registers hold fp[] (with that hart's
                     // fp_owner == id), or -1
};
static_assert(sizeof(Thread) <= kPageSize);
static_assert(offsetof(Thread, tf) == 0, "the trapframe starts the page");

struct Endpoint {
    Thread* send_head;
    Thread* send_tail;
    Thread* recv_head;
    Thread* recv_tail;
    uint32_t fault_refs; // threads that use it as their fault endpoint
};

// An address space: four pages (an order-2 frame). Page 0 is the root table,
// pages 1 and 2 the level-1 and level-0 tables of the top 2 MiB (trampoline,
// trapframe, stack), page 3 this header.
struct AddressSpace {
    uint64_t root;          // physical address of page 0
    uint32_t bound_threads; // threads running in it
    uint32_t tables;        // donated table pages installed (not counting its own)
    uint64_t mapped_pages;  // leaves made through Map
    Thread* trapframe_owner;
};
inline constexpr uint64_t kAsHeaderOffset = 3 * kPageSize;

inline AddressSpace* as_of(uint64_t object_pa) {
    return reinterpret_cast<AddressSpace*>(object_pa + kAsHeaderOffset);
}
template <class T>
T* phys_to(uint64_t pa) {
    return reinterpret_cast<T*>(pa);
}

} // namespace capframe
