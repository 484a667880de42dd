// Helpers shared by the sign tests.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "util/error.h"

namespace sealift::sign {

// Runs f and expects a sealift::Error of `kind` whose message contains `needle`.
template <typename F>
void ExpectError(F&& f, ErrorKind kind, std::string_view needle) {
  try {
    f();
    ADD_FAILURE() << "expected an error containing \"" << needle << "\"";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what();
  }
}

}  // namespace sealift::sign
