#include "result.h"

namespace capframe {

const char* error_name(Error e) {
    switch (e) {
    case Error::InvalidArgument:
        return "invalid argument";
    case Error::Misaligned:
        return "misaligned";
    case Error::OutOfRange:
        return "out of range";
    case Error::AlreadyMapped:
        return "already mapped";
    case Error::NotMapped:
        return "not mapped";
    case Error::NoMemory:
        return "out of memory";
    case Error::WouldSplitLargePage:
        return "would split a large page";
    case Error::BadFormat:
        return "bad format";
    case Error::Truncated:
        return "truncated";
    case Error::NotFound:
        return "not found";
    case Error::TooMany:
        return "too many";
    case Error::Fault:
        return "bad address";
    case Error::BadSlot:
        return "empty slot";
    case Error::BadType:
        return "wrong capability type";
    case Error::Permission:
        return "missing rights";
    case Error::Busy:
        return "busy";
    case Error::NeedTable:
        return "page table needed";
    case Error::NoCaller:
        return "no caller to reply to";
    case Error::Dead:
        return "endpoint deleted";
    case Error::NoSystemCall:
        return "no such system call";
    }
    return "unknown error";
}

} // namespace capframe
