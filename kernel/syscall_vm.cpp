// Address-space system calls: map, unmap, protect, page-table donation,
// vmprint. Decode first, then perform in kernel/vmops.cpp.
#include "cap.h"
#include "syscalls.h"
#include "vm.h"
#include "vmops.h"
#include "vmprint.h"

namespace capframe {

Result<int64_t> sys_map(Thread& t, SyscallArgs a) {
    Cap* f = TRY(lookup(t, a[0], ObjType::Frame));
    Cap* as = TRY(lookup(t, a[1], ObjType::AddressSpace));
    if (a[3] > 0xff) return Error::InvalidArgument;
    int level = 0;
    auto r = frame_map(f, as_of(as->object), a[2], static_cast<uint8_t>(a[3]), &level);
    if (!r.ok() && r.error() == Error::NeedTable) t.tf.regs[arch::a1] = level;
    TRY(r);
    return 0;
}

Result<int64_t> sys_unmap(Thread& t, SyscallArgs a) {
    Cap* f = TRY(lookup(t, a[0], ObjType::Frame));
    TRY(frame_unmap_checked(f));
    return 0;
}

Result<int64_t> sys_protect(Thread& t, SyscallArgs a) {
    Cap* f = TRY(lookup(t, a[0], ObjType::Frame));
    if (a[1] > 0xff) return Error::InvalidArgument;
    TRY(frame_protect(f, static_cast<uint8_t>(a[1])));
    return 0;
}

Result<int64_t> sys_protect_range(Thread& t, SyscallArgs a) {
    Cap* as = TRY(lookup(t, a[0], ObjType::AddressSpace));
    return static_cast<int64_t>(TRY(as_protect_range(as_of(as->object), a[1], a[2])));
}

Result<int64_t> sys_frame_zero(Thread& t, SyscallArgs a) {
    Cap* f = TRY(lookup(t, a[0], ObjType::Frame));
    TRY(frame_zero(f));
    return 0;
}

Result<int64_t> sys_map_table(Thread& t, SyscallArgs a) {
    Cap* f = TRY(lookup(t, a[0], ObjType::Frame));
    Cap* as = TRY(lookup(t, a[1], ObjType::AddressSpace));
    return TRY(table_map(f, as_of(as->object), a[2]));
}

Result<int64_t> sys_unmap_table(Thread& t, SyscallArgs a) {
    Cap* f = TRY(lookup(t, a[0], ObjType::Frame));
    TRY(table_unmap(f));
    return 0;
}

Result<int64_t> sys_vmprint(Thread& t, SyscallArgs a) {
    Cap* c = TRY(lookup(t, a[0], ObjType::Null));
    if (c->type == ObjType::AddressSpace)
        as_vmprint(as_of(c->object));
    else if (c->type == ObjType::Control)
        kernel_vmprint();
    else
        return Error::BadType;
    return 0;
}

} // namespace capframe
