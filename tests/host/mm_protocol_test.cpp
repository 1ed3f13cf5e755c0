// The memory server's reply codecs (abi/capframe/mm_protocol.h): what mm
// encodes is what libsys decodes, names of every length included.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "capframe/mm_protocol.h"

namespace mmp = capframe::mmp;

namespace {

TEST(MmProtocol, ProcInfoRoundTrips) {
    for (std::string name : {"", "a", "init", "usertest", "usertests-longer"}) {
        mmp::ProcInfoReply r;
        r.parent = 0xfffffffe;
        r.state = mmp::kProcZombie;
        r.frames = 0x123456789abcdef0;
        std::strncpy(r.name, name.c_str(), sizeof r.name);
        uint64_t m[3];
        mmp::encode(r, m);
        mmp::ProcInfoReply d = mmp::decode_proc_info(m);
        EXPECT_EQ(d.parent, r.parent);
        EXPECT_EQ(d.state, r.state);
        EXPECT_EQ(d.frames, r.frames);
        EXPECT_EQ(std::string(d.name, strnlen(d.name, sizeof d.name)), name.substr(0, 8)) << name;
    }
}

TEST(MmProtocol, ProgramNamesUpTo23BytesRoundTrip) {
    for (std::string name : {"", "sh", "12345678", "123456789", "a-23-byte-program-name!",
                             "a-name-longer-than-twenty-four"}) {
        mmp::ProgramReply r;
        std::strncpy(r.name, name.c_str(), sizeof r.name - 1);
        uint64_t m[3];
        mmp::encode(r, m);
        mmp::ProgramReply d = mmp::decode_program(m);
        EXPECT_EQ(std::string(d.name), name.substr(0, 23)) << name;
        EXPECT_EQ(d.name[23], 0) << "always terminated";
    }
}

TEST(MmProtocol, TheWordsAreLittleEndianBytes) {
    mmp::ProcInfoReply r;
    std::memcpy(r.name, "abcdefgh", 8);
    r.parent = 7;
    r.state = mmp::kProcRunning;
    uint64_t m[3];
    mmp::encode(r, m);
    EXPECT_EQ(m[0], 7u | uint64_t{mmp::kProcRunning} << 32);
    EXPECT_EQ(m[2] & 0xff, uint64_t('a'));
    EXPECT_EQ(m[2] >> 56, uint64_t('h'));
}

} // namespace
