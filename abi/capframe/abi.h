// The system-call ABI shared by the kernel and libsys. Plain C++20, no
// dependencies: both sides include this one header. docs/capabilities.md
// describes every call and its errors.
//
// Calling convention: `ecall` from U-mode with the syscall number in a7 and
// arguments in a0..a5. The result comes back in a0 (>= 0 on success, a
// negated abi::Errno on failure); some calls return a second value in a1,
// and IPC returns a message in a1..a4 and the badge in a5.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "capframe/layout.h"

namespace capframe::abi {

enum class Sys : uint64_t {
    DebugWrite = 1,           // (fd, buf, len) -> bytes; fd 1/2: the kernel console
    ConsoleRead = 2,          // (buf, len) -> bytes waiting on the console (0: none), never blocks
    Uptime = 4,               // () -> timer ticks since boot
    Yield = 5,                // () -> 0
    Timebase = 6,             // () -> rdtime ticks per second
    Sleep = 7,                // (ticks) -> 0 after at least that many timer ticks
    LockStats = 8,            // (reset 0/1) -> the longest kernel-lock hold in instructions
                              // retired since boot or the last reset; a1 = acquisitions
    DebugKstackOverflow = 99, // test kernels only: recurse in the kernel until the guard page
    DebugHoldLock = 98,       // test kernels only: (ms) stay in the kernel with the lock held
    DebugOnHartRefusals = 97, // test kernels only: how often a thread operation found its
                              // (suspended) thread still on a hart (EBUSY)

    // Capabilities. `slot` arguments index the caller's capability table.
    CapInfo = 10,    // (slot) -> type | rights << 8 | order << 16 | flags << 24; a1 = object/pa
    CapCopy = 11,    // (src, dst_table, dst_index, rights, badge) -> 0: a child with rights <= src
    CapDelete = 12,  // (slot) -> 0; Busy if it has children or its object is in use
    CapRevoke = 13,  // (slot) -> number deleted: every descendant, and the mappings they made
    FrameSplit = 14, // (slot, dst_lo, dst_hi) -> 0: two children, the lower and upper half;
                     // dst_lo == slot: in place, slot becomes the lower half, dst_hi its sibling
    Retype = 15,     // (frame, ObjType, dst) -> 0: a kernel object in the donated frame
    CapAttach = 16,  // (space, leaf, index) -> 0: a one-page CapTable becomes slots
                     // [64 * index, 64 * index + 64) of a two-level space (0: own)
    CapDetach = 17,  // (space, index) -> 0: an empty leaf leaves the space
    FrameMerge = 18, // (lo, hi) -> 0: buddy halves (same parent, free) become lo; hi empties
    CapMove = 19,    // (src, dst) -> 0: a frame capability (not a kernel stack's) moves to
                     // the empty slot dst with its mapping, children, donation; src empties

    // Address spaces
    Map = 20,          // (frame, as, va, rights) -> 0, or NeedTable with the level in a1
    Unmap = 21,        // (frame) -> 0: removes the mapping the cap made
    Protect = 22,      // (frame, rights) -> 0
    MapTable = 23,     // (frame, as, va) -> level: donates a page-table page for va
    UnmapTable = 24,   // (frame) -> 0: the table must be empty
    VmPrint = 25,      // (as or Control) -> 0: the kernel prints that table
    ProtectRange = 26, // (as, va, end) -> where it stopped: every user page mapped in
                       // [va, end) becomes read-only; at most kProtectRangeSteps
                       // entries looked at per call (call again from there to end)
    FrameZero = 27,    // (frame) -> 0: the kernel zeroes the frame (Write; free for use:
                       // not mapped, donated or split, no copies; order <= kFrameZeroMaxOrder)

    // Threads
    ThreadConfigure = 30, // (thread, as, captable, fault_ep) -> 0
    ThreadSetStack = 31,  // (thread, frame) -> kernel-stack slot: donated, mapped with a guard page
    ThreadWriteRegs = 32, // (thread, pc, sp, a0, a1) -> 0
    ThreadStart = 33,     // (thread) -> 0
    ThreadSuspend = 34,   // (thread) -> 0
    ThreadReply = 35,     // (thread, m0..m3) -> 0: answers its pending call to us (deferred reply)
    ThreadCopyRegs = 36,  // (dst, src, a0, a1) -> 0: dst (inactive) gets src's user registers

    // IPC: synchronous endpoints, a 4-word message in registers.
    Call = 40,      // (ep, m0, m1, m2, m3) -> status; reply in a1..a4
    Recv = 41,      // (ep) -> status; message in a1..a4, badge in a5
    Reply = 42,     // (_, m0, m1, m2, m3) -> 0 or NoCaller
    ReplyRecv = 43, // (ep, m0, m1, m2, m3): reply then receive, as Recv
    // (ep, m0, m1, m2, m3, frame | count << 32 | recv_only << 63): the
    // batch first (as Batch: count entries of the frame's page), then, if
    // every entry succeeded, ReplyRecv (with kBatchRecvOnly: Recv, nothing
    // replied). Otherwise it returns at once, nothing replied or received:
    // a0 = Errno::Stopped, a1 = the entries that succeeded (0 also if the
    // batch itself was refused). A server's last kernel calls for a request
    // ride its answer: one kernel entry instead of two.
    BatchReplyRecv = 44,

    // Control (needs the Control capability the kernel gives mm)
    Shutdown = 50, // (control, status) -> does not return

    // Batches: runs up to kBatchMax BatchEntry records from the first page of
    // a frame the caller holds, in order, in one kernel entry; stops at the
    // first that fails. Returns how many succeeded (each entry's result is
    // written back); a1 = the second value of the last entry run (Map's
    // NeedTable level, CapInfo's object).
    Batch = 60, // (frame, count) -> entries that succeeded
};

// BatchReplyRecv's a5 bit: after the batch, a plain Recv (no reply).
inline constexpr uint64_t kBatchRecvOnly = uint64_t{1} << 63;

// FrameZero's largest frame (16 pages: a bounded time under the kernel lock).
inline constexpr uint64_t kFrameZeroMaxOrder = 4;
// ProtectRange's bound per call: a leaf table costs 512 steps, an absent
// table above one 1, so one call holds the kernel for a few leaf tables.
inline constexpr uint64_t kProtectRangeSteps = 8 * 512;

// Error numbers, returned negated.
enum class Errno : int64_t {
    Perm = 1,       // missing rights
    NoEnt = 2,      // no such program / object
    Busy = 16,      // object in use, has children, or already mapped/donated
    Exist = 17,     // destination slot not empty / va already mapped
    NoMem = 12,     // (mm only: the kernel never runs out)
    Fault = 14,     // bad user pointer
    Inval = 22,     // bad argument (alignment, range, W+X, order)
    Range = 34,     // slot index outside the table, va at or above MAXVA
    NoSys = 38,     // unknown syscall
    Child = 10,     // wait: no children
    Srch = 3,       // no such process
    TooBig = 7,     // exec: arguments too long
    NoExec = 8,     // exec: not a valid executable
    BadSlot = 81,   // empty slot
    BadType = 82,   // slot holds a capability of the wrong type
    NeedTable = 83, // Map: a page-table page is missing at level a1
    NoCaller = 84,  // Reply with nobody to reply to
    Dead = 85,      // the endpoint was deleted while waiting
    Stopped = 86,   // BatchReplyRecv: an entry of the batch failed (a1 = entries done)
};

constexpr int64_t error_return(Errno e) {
    return -static_cast<int64_t>(e);
}

enum class ObjType : uint8_t {
    Null = 0,
    Frame = 1,        // a physical run of 2^order pages
    AddressSpace = 2, // from an order-2 frame: root table, two tables for the top, metadata
    Thread = 3,       // from an order-0 frame: trapframe + thread control block
    Endpoint = 4,     // from an order-0 frame
    CapTable = 5,     // from an order-k frame: 64 << k slots
    Control = 6,      // the kernel's control capability (shutdown, kernel vmprint)
};

// One call of a Batch: the kernel reads number and args once, runs the call
// through the same decoder as a single call, and writes its result (>= 0,
// or a negated Errno) back. Only calls that never block and print nothing
// may be batched: Cap*, FrameSplit, Retype, Map, Unmap, Protect, ProtectRange, FrameZero,
// MapTable, UnmapTable, ThreadConfigure, ThreadSetStack, ThreadWriteRegs, ThreadStart,
// ThreadCopyRegs; any other number's result is NoSys and ends the batch.
struct BatchEntry {
    uint64_t number; // an abi::Sys value
    uint64_t args[6];
    int64_t result; // written by the kernel for every entry it ran
};
// Entries per Batch call (one page): bounds the time the kernel lock is held.
inline constexpr uint64_t kBatchMax = 64;
static_assert(sizeof(BatchEntry) * kBatchMax == 4096, "a batch fills one page");

// Rights bits of a capability.
inline constexpr uint8_t kRightRead = 1;
inline constexpr uint8_t kRightWrite = 2;
inline constexpr uint8_t kRightExec = 4;
inline constexpr uint8_t kRightMap = 8;     // frame: may be mapped
inline constexpr uint8_t kRightDonate = 16; // frame: may be split, retyped, donated
inline constexpr uint8_t kRightsAll = 31;

// CapInfo flags
inline constexpr uint8_t kCapMapped = 1;  // frame mapped by this cap
inline constexpr uint8_t kCapDonated = 2; // frame in kernel use (object, table, stack)
inline constexpr uint8_t kCapSplit = 4;   // frame split into children

inline constexpr uint64_t kCapSlotsPerPage = 64;

// The scause values a fault message carries (privileged spec, table 4.2).
constexpr const char* exception_name(uint64_t scause) {
    switch (scause) {
    case 0:
        return "instruction address misaligned";
    case 1:
        return "instruction access fault";
    case 2:
        return "illegal instruction";
    case 3:
        return "breakpoint";
    case 4:
        return "load address misaligned";
    case 5:
        return "load access fault";
    case 6:
        return "store address misaligned";
    case 7:
        return "store access fault";
    case 8:
        return "environment call from U-mode";
    case 9:
        return "environment call from S-mode";
    case 12:
        return "instruction page fault";
    case 13:
        return "load page fault";
    case 15:
        return "store page fault";
    }
    return "unknown exception";
}

// Fault messages the kernel sends to a thread's fault endpoint on its behalf.
inline constexpr uint64_t kFaultLabel = 0xfa017;
// m0 = kFaultLabel, m1 = scause, m2 = stval, m3 = sepc. Reply m0 = 0 resumes
// the thread (after the handler fixed the cause), anything else suspends it.

// Sizes
// A console write (DebugWrite) prints at most kWriteChunk bytes per call and
// returns the count (libsys's write loops); it checks up to kWriteMax bytes
// of the buffer first. ConsoleRead returns at most kWriteChunk bytes.
inline constexpr size_t kWriteChunk = 256;
inline constexpr size_t kWriteMax = 1 << 20;

// The user address space that every program sees (docs/memory-layout.md):
// the values are capframe/layout.h's, the one definition that C and the
// kernel's assembly read too.
inline constexpr uint64_t kMaxVa = CAPFRAME_MAX_VA;
inline constexpr uint64_t kTrampolineVa = CAPFRAME_TRAMPOLINE_VA;
inline constexpr uint64_t kTrapframeVa = CAPFRAME_TRAPFRAME_VA;
inline constexpr uint64_t kUserTextBase = 0x10000;
inline constexpr uint64_t kUserStackTop = CAPFRAME_USER_STACK_TOP;
inline constexpr uint64_t kUserStackPages = 4; // pages mm maps before a program starts
inline constexpr uint64_t kUserStackMax = CAPFRAME_USER_STACK_MAX; // grows on demand to this
inline constexpr uint64_t kStackGuardVa = CAPFRAME_STACK_GUARD_VA; // never mapped
inline constexpr uint64_t kMaxArgs = CAPFRAME_MAX_ARGS;            // exec: argv entries
inline constexpr uint64_t kMaxArgBytes = CAPFRAME_MAX_ARG_BYTES;   // exec: argv strings with NULs
inline constexpr uint64_t kBootInfoVa = 0x3f00000000;              // mm only: BootInfo, read-only
inline constexpr uint64_t kBootImageVa = 0x3f00100000; // mm only: the boot archive, read-only
inline constexpr uint64_t kFrameMetaVa = 0x2000000000; // mm only: per-frame metadata, RW
// mm's per-frame books at kFrameMetaVa, per window frame: a part the kernel
// zeroes (the allocator's 16 bytes, a 12-byte frame record, a 4-byte hash
// bucket per 4 frames), then mapping records (32 bytes, one per frame),
// which mm takes from a high-water mark and the kernel leaves as they are;
// kMetaSlackBytes once (record 0, alignment).
inline constexpr uint64_t kMetaZeroedBytesPerFrame = 29;
inline constexpr uint64_t kMetaRecordBytesPerFrame = 32;
inline constexpr uint64_t kMetaBytesPerFrame = kMetaZeroedBytesPerFrame + kMetaRecordBytesPerFrame;
inline constexpr uint64_t kMetaSlackBytes = 64;

// What the kernel tells mm at start (mapped read-only at kBootInfoVa).
struct BootInfo {
    uint64_t magic;              // kBootInfoMagic
    uint64_t total_frames;       // free RAM at boot (before mm was built)
    uint64_t kernel_boot_frames; // used by the kernel's own tables at boot
    uint64_t mm_frames;          // mm's image, stack, objects, directory and boot leaves
    uint64_t mm_captable_slots;  // slot numbers of mm's space: cap_dir_entries * 64
    uint64_t first_frame_slot;   // frame caps: slots [first, first + count)
    uint64_t frame_slot_count;
    uint64_t first_free_slot;
    uint64_t image_bytes;       // size of the boot archive (cpio newc) at kBootImageVa
    uint64_t window_base;       // lowest physical address of any frame capability
    uint64_t window_frames;     // frames from window_base to the highest frame's end
    uint64_t meta_bytes;        // RW memory at kFrameMetaVa (kMetaBytesPerFrame per frame)
    uint64_t meta_zeroed_bytes; // of which the first this many are zeroed
    // mm's two-level capability space (docs/memory-server.md): directory
    // entries (leaves it can ever have), leaves [0, boot_leaves) attached at
    // boot, and zeroed RW books for the leaves at kFrameMetaVa + meta_bytes.
    uint64_t cap_dir_entries;
    uint64_t boot_leaves;
    uint64_t slot_book_bytes;
    char bootargs[2048]; // /chosen/bootargs, NUL-terminated (MachineInfo's kBootargsBytes)
};
inline constexpr uint64_t kBootInfoMagic = 0xcafe'f4a3'b007'1f0aull;

// Well-known slots in mm's capability table
inline constexpr uint64_t kSlotSelfCapTable = 1;
inline constexpr uint64_t kSlotSelfAs = 2;
inline constexpr uint64_t kSlotSelfThread = 3;
inline constexpr uint64_t kSlotControl = 4;
// ...and in every task mm starts
inline constexpr uint64_t kSlotMmEndpoint = 1;

static_assert(sizeof(Sys) == 8 && sizeof(Errno) == 8, "ABI enums are register sized");
static_assert(sizeof(BootInfo) == 16 * 8 + 2048 && sizeof(BootInfo) <= 4096); // one page
static_assert(kUserStackTop % 4096 == 0 && kUserTextBase % 4096 == 0);
static_assert(kMaxVa == uint64_t{1} << 38 && kTrampolineVa == kMaxVa - 4096 &&
              kTrapframeVa == kTrampolineVa - 4096 && kUserStackTop == kTrapframeVa - 4096);
static_assert(kStackGuardVa == kUserStackTop - kUserStackMax - 4096);

} // namespace capframe::abi
