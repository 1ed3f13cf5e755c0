// lib/result.h: the error is kept as a word, 0 meaning ok (linked into the
// ranges test: both are lib's plain data structures).
#include <gtest/gtest.h>

#include "result.h"

using capframe::Error;
using capframe::Result;

namespace {

TEST(Result, AValueIsOkAndAnErrorComesBack) {
    Result<uint64_t> v = uint64_t{0};
    EXPECT_TRUE(v.ok());
    EXPECT_EQ(v.value(), 0u);
    Result<uint64_t> e = Error::Busy;
    EXPECT_FALSE(e.ok());
    EXPECT_EQ(e.error(), Error::Busy);
    Result<void> ok;
    EXPECT_TRUE(ok.ok());
    Result<void> bad = Error::NoSystemCall;
    EXPECT_FALSE(bad.ok());
    EXPECT_EQ(bad.error(), Error::NoSystemCall);
}

TEST(Result, AZeroErrorStaysAFailure) {
    Result<uint64_t> e = Error{};
    EXPECT_FALSE(e.ok()) << "0 means ok in the stored word; Error{} must not become a success";
    EXPECT_EQ(e.error(), Error::InvalidArgument);
    Result<void> v = Error{};
    EXPECT_FALSE(v.ok());
}

} // namespace
