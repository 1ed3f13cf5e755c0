// An IPC message in registers: four words and the badge of the sender's
// capability (a1..a4 and a5 of Call, Recv and ReplyRecv; see abi.h). One
// type for libsys (sys::Msg) and for mm's kernel interface.
#pragma once

#include <stdint.h>

namespace capframe {

struct Msg {
    uint64_t w[4] = {};
    uint64_t badge = 0;
};

} // namespace capframe
