// Capability operations. Each syscall-facing function decodes (checks
// everything, changes nothing) and then performs; an error means nothing
// changed. Functions that need the caller's table take the Thread.
#pragma once

#include "object.h"
#include "result.h"

namespace capframe {

void mdb_init();
// Inserts a boot-time root capability (depth 0) into the MDB.
void mdb_insert_root(Cap* c);

// The slot `slot` of t's table, which must hold a capability of `want`
// (ObjType::Null: any type). BadSlot / BadType / OutOfRange.
// (Inline: every system call looks up its capabilities, a batch entry
// one to three.)
inline Result<Cap*> lookup(const Thread& t, uint64_t slot, ObjType want) {
    Cap* c = t.table.slot(slot);
    if (!c) return Error::OutOfRange;
    if (c->empty()) return Error::BadSlot;
    if (want != ObjType::Null && c->type != want) return Error::BadType;
    return c;
}
// An empty slot of a table (for results). OutOfRange / AlreadyMapped.
inline Result<Cap*> lookup_empty(const CapTableRef& table, uint64_t slot) {
    Cap* c = table.slot(slot);
    if (!c) return Error::OutOfRange;
    if (!c->empty()) return Error::AlreadyMapped;
    return c;
}
Result<CapTableRef> table_of(const Thread& t, uint64_t table_slot); // 0: t's own

// The two-level capability space (kernel/object.h): attach a one-page leaf
// table (the capability retype made, empty, unbound) at a directory index,
// or detach an empty one. Errors change nothing.
Result<void> cap_attach(const CapTableRef& space, Cap* leaf, uint64_t index);
Result<void> cap_detach(const CapTableRef& space, uint64_t index);

Result<void> cap_copy(Cap* src, Cap* dst, uint8_t rights, uint64_t badge);
Result<void> cap_delete(Cap* c);
Result<uint64_t> cap_revoke(Cap* c);
// lo == frame: in place (frame becomes the lower half, hi its sibling).
Result<void> frame_split(Cap* frame, Cap* lo, Cap* hi);
// Two buddy halves (free for use, same rights, same parent) become lo, of
// one order more; hi's slot is emptied. The inverse of an in-place split.
Result<void> frame_merge(Cap* lo, Cap* hi);
inline constexpr uint8_t kMaxFrameOrder = 30;
// A frame capability (any but a kernel stack's) moves to the empty slot
// dst, with its place in the MDB, its mapping or donation; src empties.
// Nothing else changes (mm compacts its space with it).
Result<void> cap_move(Cap* src, Cap* dst);
Result<void> retype(Cap* frame, ObjType type, Cap* dst);

bool has_children(const Cap* c);
bool frame_free_for_use(const Cap* c); // not mapped, donated, split, and no children

// Thread object lifecycle (thread.cpp)
void thread_init(Thread* t);
Result<void> thread_check_destroy(const Thread* t);
void thread_destroy(Thread* t);
// Address space (vmops.cpp)
void as_init(uint64_t pa);
Result<void> as_check_destroy(const AddressSpace* as);
void as_clear(AddressSpace* as); // at deletion: what as_init wrote (the rest is zero)
void frame_unmap(Cap* frame);    // the mapping the cap made (must exist)
void table_release(Cap* frame);  // a donated page-table page (must be empty)
// Endpoint (thread.cpp)
Result<void> endpoint_check_destroy(const Endpoint* ep);
void endpoint_destroy(Endpoint* ep);

void zero_frames(uint64_t pa, uint64_t pages);
// The frame's run zeroed, unless the kernel knows it is (Cap::zeroed), and
// known zero from now on (FrameZero).
void frame_ensure_zero(Cap* frame);
// The same, for a frame the kernel makes an object, a table or a stack in:
// zero to start with, not known zero from now on.
void frame_zero_for_use(Cap* frame);

} // namespace capframe
