#include "sign/password.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "env/process.h"
#include "expect_error.h"
#include "util/fs.h"

namespace sealift::sign {
namespace {

// Sets or unsets COSIGN_PASSWORD for one test and restores it afterwards.
class CosignPasswordEnv {
 public:
  explicit CosignPasswordEnv(const char* value) {
    if (const char* old = std::getenv("COSIGN_PASSWORD")) saved_ = old, had_ = true;
    if (value) setenv("COSIGN_PASSWORD", value, 1);
    else unsetenv("COSIGN_PASSWORD");
  }
  ~CosignPasswordEnv() {
    if (had_) setenv("COSIGN_PASSWORD", saved_.c_str(), 1);
    else unsetenv("COSIGN_PASSWORD");
  }

 private:
  std::string saved_;
  bool had_ = false;
};

TEST(Password, EmptyCosignPasswordIsAnEmptyPassword) {
  CosignPasswordEnv env("");
  Secret s = read_password({});
  EXPECT_TRUE(s.empty());
}

TEST(Password, CosignPasswordIsTakenVerbatim) {
  CosignPasswordEnv env(" spaced \n");
  EXPECT_EQ(read_password({}).view(), " spaced \n");
}

TEST(Password, PasswordFileWinsAndLosesOneTrailingNewline) {
  CosignPasswordEnv env("from-env");
  testenv::TempDir dir;
  util::write_file_atomic(dir / "pw", "from-file\n", 0600);
  EXPECT_EQ(read_password({dir / "pw"}).view(), "from-file");
  util::write_file_atomic(dir / "crlf", "two\r\n\r\n", 0600);
  EXPECT_EQ(read_password({dir / "crlf"}).view(), "two\r\n");
  util::write_file_atomic(dir / "empty", "", 0600);
  EXPECT_TRUE(read_password({dir / "empty"}).empty());
  ExpectError([&] { read_password({dir / "missing"}); }, ErrorKind::Io, "cannot read the password file");
  ExpectError([&] { read_password({dir.path()}); }, ErrorKind::Usage, "is not a regular file");
}

TEST(Secret, WipesWhatItDropsAndComparesByContent) {
  Secret s = Secret::copy_of("password\n");
  const unsigned char* p = s.data();
  s.truncate(8);
  EXPECT_EQ(s.view(), "password");
  EXPECT_EQ(p[8], 0);
  EXPECT_TRUE(s.equals(Secret::copy_of("password")));
  EXPECT_FALSE(s.equals(Secret::copy_of("passwore")));
  Secret moved = std::move(s);
  EXPECT_EQ(moved.view(), "password");
  EXPECT_TRUE(Secret().empty());
  EXPECT_NE(Secret().data(), nullptr);
}

}  // namespace
}  // namespace sealift::sign
