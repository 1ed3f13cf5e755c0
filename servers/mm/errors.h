// Between the kernel's and mm's errors (abi::Errno, negated) and the pure
// code's capframe::Error.
#pragma once

#include <cstdint>

#include "capframe/abi.h"
#include "result.h"

namespace capframe::mm {

using Errno = abi::Errno;

inline int64_t err(Errno e) {
    return abi::error_return(e);
}

// A kernel call's negative result as an Error.
inline Error error_of(int64_t r) {
    switch (static_cast<Errno>(-r)) {
    case Errno::NoMem:
        return Error::NoMemory;
    case Errno::Busy:
        return Error::Busy;
    case Errno::Exist:
        return Error::AlreadyMapped;
    case Errno::NeedTable:
        return Error::NeedTable;
    case Errno::Perm:
        return Error::Permission;
    case Errno::BadSlot:
        return Error::BadSlot;
    case Errno::BadType:
        return Error::BadType;
    case Errno::Range:
        return Error::OutOfRange;
    case Errno::Fault:
        return Error::Fault;
    default:
        return Error::InvalidArgument;
    }
}

// An Error as the negated errno a process gets back.
inline int64_t errno_of(Error e) {
    switch (e) {
    case Error::NoMemory:
    case Error::TooMany:
        return err(Errno::NoMem);
    case Error::Fault:
        return err(Errno::Fault);
    case Error::NotFound:
        return err(Errno::NoEnt);
    case Error::BadFormat:
    case Error::Truncated:
    case Error::OutOfRange:
        return err(Errno::NoExec);
    case Error::Busy:
        return err(Errno::Busy);
    case Error::Permission:
        return err(Errno::Perm);
    default:
        return err(Errno::Inval);
    }
}

} // namespace capframe::mm
