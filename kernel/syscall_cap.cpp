// Capability system calls: decode (look up and check every slot) first,
// then perform in kernel/cap.cpp. The host fuzzer tests/fuzz/captable_fuzz
// links this file with cap.cpp, so what it fuzzes is this decoding.
#include "cap.h"
#include "syscalls.h"

namespace capframe {

Result<int64_t> sys_cap_info(Thread& t, SyscallArgs a) {
    Cap* c = TRY(lookup(t, a[0], ObjType::Null));
    t.tf.regs[arch::a1] = c->object;
    return int64_t{static_cast<uint8_t>(c->type)} | int64_t{c->rights} << 8 |
           int64_t{c->order} << 16 | int64_t{c->flags} << 24;
}

Result<int64_t> sys_cap_copy(Thread& t, SyscallArgs a) {
    Cap* src = TRY(lookup(t, a[0], ObjType::Null));
    CapTableRef dst_table = TRY(table_of(t, a[1]));
    Cap* dst = TRY(lookup_empty(dst_table, a[2]));
    if (a[3] > 0xff) return Error::InvalidArgument;
    TRY(cap_copy(src, dst, static_cast<uint8_t>(a[3]), a[4]));
    return 0;
}

Result<int64_t> sys_cap_delete(Thread& t, SyscallArgs a) {
    Cap* c = TRY(lookup(t, a[0], ObjType::Null));
    TRY(cap_delete(c));
    return 0;
}

Result<int64_t> sys_cap_revoke(Thread& t, SyscallArgs a) {
    Cap* c = TRY(lookup(t, a[0], ObjType::Null));
    return static_cast<int64_t>(TRY(cap_revoke(c)));
}

Result<int64_t> sys_frame_split(Thread& t, SyscallArgs a) {
    Cap* f = TRY(lookup(t, a[0], ObjType::Frame));
    Cap* lo = a[1] == a[0] ? f : TRY(lookup_empty(t.table, a[1])); // a[1] == a[0]: in place
    Cap* hi = TRY(lookup_empty(t.table, a[2]));
    TRY(frame_split(f, lo, hi));
    return 0;
}

Result<int64_t> sys_frame_merge(Thread& t, SyscallArgs a) {
    Cap* lo = TRY(lookup(t, a[0], ObjType::Frame));
    Cap* hi = TRY(lookup(t, a[1], ObjType::Frame));
    TRY(frame_merge(lo, hi));
    return 0;
}

Result<int64_t> sys_cap_move(Thread& t, SyscallArgs a) {
    Cap* src = TRY(lookup(t, a[0], ObjType::Null));
    Cap* dst = TRY(lookup_empty(t.table, a[1]));
    TRY(cap_move(src, dst));
    return 0;
}

Result<int64_t> sys_retype(Thread& t, SyscallArgs a) {
    Cap* f = TRY(lookup(t, a[0], ObjType::Frame));
    Cap* dst = TRY(lookup_empty(t.table, a[2]));
    if (a[1] > 0xff) return Error::InvalidArgument;
    TRY(retype(f, static_cast<ObjType>(a[1]), dst));
    return 0;
}

Result<int64_t> sys_cap_attach(Thread& t, SyscallArgs a) {
    CapTableRef space = TRY(table_of(t, a[0]));
    Cap* leaf = TRY(lookup(t, a[1], ObjType::Null));
    TRY(cap_attach(space, leaf, a[2]));
    return 0;
}

Result<int64_t> sys_cap_detach(Thread& t, SyscallArgs a) {
    CapTableRef space = TRY(table_of(t, a[0]));
    TRY(cap_detach(space, a[1]));
    return 0;
}

} // namespace capframe
