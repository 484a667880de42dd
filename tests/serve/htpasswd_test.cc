// The htpasswd checker of `sealift-install serve` (serve/htpasswd.h) on its own, with the files
// Apache's `htpasswd -B` writes. crypt_r is wrapped below to count the hashes sealift asks for and
// see their settings: what a timing attacker measures and what a flood of guesses costs cannot be
// observed reliably from outside on a loaded machine.
#include <crypt.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "env/process.h"
#include "serve/htpasswd.h"

namespace {

std::atomic<int> crypt_calls{0};
std::atomic<int> crypt_in_flight{0};
std::atomic<int> crypt_most_in_flight{0};
std::mutex setting_mutex;
std::string setting_seen;

std::string last_setting() {
  std::lock_guard lock(setting_mutex);
  return setting_seen;
}

}  // namespace

// The test binary's crypt_r comes before libcrypt's at link time; it counts, then calls libcrypt's.
extern "C" char* crypt_r(const char* phrase, const char* setting, struct crypt_data* data) noexcept {
  using Fn = char* (*)(const char*, const char*, struct crypt_data*);
  static const Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "crypt_r"));
  ++crypt_calls;
  {
    std::lock_guard lock(setting_mutex);
    setting_seen = setting;
  }
  int now = ++crypt_in_flight;
  for (int most = crypt_most_in_flight; now > most && !crypt_most_in_flight.compare_exchange_weak(most, now);) {
  }
  char* out = real(phrase, setting, data);
  --crypt_in_flight;
  return out;
}

namespace sealift::serve {
namespace {

namespace fs = std::filesystem;

fs::path htpasswd_file(const std::string& name, const std::vector<std::pair<std::string, std::string>>& users,
                       int cost = 4) {
  static testenv::TempDir dir("sealift-htpasswd-test");
  fs::path file = dir / name;
  for (const auto& [user, password] : users) {
    std::vector<std::string> argv = {"htpasswd", "-B", "-C", std::to_string(cost), "-b"};
    if (!fs::exists(file)) argv.push_back("-c");
    for (const std::string& a : {file.string(), user, password}) argv.push_back(a);
    auto r = testenv::run(argv);
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  return file;
}

TEST(Htpasswd, AnUnknownUserCostsOneHashLikeAKnownOne) {
  Htpasswd h(htpasswd_file("timing", {{"puller", "pull-pw"}}));
  crypt_calls = 0;
  EXPECT_FALSE(h.check("nobody", "x"));
  EXPECT_EQ(crypt_calls, 1) << "an unknown user must cost what a wrong password does";
  crypt_calls = 0;
  EXPECT_FALSE(h.check("puller", "x"));
  EXPECT_EQ(crypt_calls, 1);
  crypt_calls = 0;
  EXPECT_FALSE(h.check("nobody", std::string("pull-pw\0x", 9)));
  EXPECT_EQ(crypt_calls, 1);
  EXPECT_TRUE(h.check("puller", "pull-pw"));
  crypt_calls = 0;
  EXPECT_TRUE(h.check("puller", "pull-pw"));
  EXPECT_EQ(crypt_calls, 0) << "credentials that passed are remembered";
  // The costliest hash of the file is the one an unknown user pays for.
  htpasswd_file("mixed", {{"cheap", "a"}}, 4);
  Htpasswd mixed(htpasswd_file("mixed", {{"dear", "b"}}, 9));
  EXPECT_FALSE(mixed.check("nobody", "b"));
  EXPECT_EQ(last_setting().substr(0, 7), "$2y$09$");
}

TEST(Htpasswd, AtMostTwoChecksHashAtOnce) {
  Htpasswd h(htpasswd_file("flood", {{"puller", "pull-pw"}}, 8));
  crypt_most_in_flight = 0;
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) threads.emplace_back([&h, i] { EXPECT_FALSE(h.check("puller", "guess" + std::to_string(i))); });
  for (auto& t : threads) t.join();
  EXPECT_LE(crypt_most_in_flight, 2);
  EXPECT_GE(crypt_most_in_flight, 1);
}

// Whether the bytes `masked` XOR kMask sit anywhere in this process's writable memory. The test
// holds only the masked form, so it does not find its own copy. Read through /proc/self/mem,
// which neither faults on unmapped holes nor trips the sanitizers.
constexpr char kMask = 0x5a;

bool in_memory(const std::string& masked) {
  int mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
  if (mem < 0) return false;
  std::ifstream maps("/proc/self/maps");
  bool found = false;
  std::vector<char> buf(1 << 20);
  auto same = [](char memory, char m) { return static_cast<char>(memory ^ kMask) == m; };
  for (std::string line; !found && std::getline(maps, line);) {
    std::istringstream in(line);
    std::string range, perms;
    in >> range >> perms;
    if (perms.size() < 2 || perms[0] != 'r' || perms[1] != 'w') continue;
    uint64_t from = std::stoull(range.substr(0, range.find('-')), nullptr, 16);
    uint64_t to = std::stoull(range.substr(range.find('-') + 1), nullptr, 16);
    if (to - from > (uint64_t{1} << 30)) continue;  // sanitizer shadow and reservations
    for (uint64_t at = from; !found && at < to;) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), to - at));
      ssize_t n = pread(mem, buf.data(), want, static_cast<off_t>(at));
      if (n <= 0) break;
      found = std::search(buf.begin(), buf.begin() + n, masked.begin(), masked.end(), same) != buf.begin() + n;
      // The next read overlaps this one by the needle's length, in case it straddles the two.
      at += static_cast<uint64_t>(n) > masked.size() ? static_cast<uint64_t>(n) - masked.size() : 1;
    }
  }
  close(mem);
  return found;
}

// The hex SHA-256 of `text`, masked with kMask.
std::string masked_sha256_hex(const std::string& text) {
  unsigned char sum[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), sum);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char byte : sum) {
    out += static_cast<char>(kHex[byte >> 4] ^ kMask);
    out += static_cast<char>(kHex[byte & 15] ^ kMask);
  }
  std::memset(sum, 0, sizeof sum);
  return out;
}

TEST(Htpasswd, TheSuccessCacheHoldsNoPlainHashOfThePassword) {
  Htpasswd h(htpasswd_file("cache", {{"puller", "pull-pw"}}));
  ASSERT_TRUE(h.check("puller", "pull-pw"));
  // A plain SHA-256 of "user\0password" in memory can be guessed at offline at SHA-256 speed.
  EXPECT_FALSE(in_memory(masked_sha256_hex(std::string("puller\0pull-pw", 14))));
  // The search itself works: the file's bcrypt hash of the password is in memory.
  std::string hash;
  std::getline(std::ifstream(htpasswd_file("cache", {})), hash);
  hash = hash.substr(hash.find(':') + 1);
  for (char& c : hash) c = static_cast<char>(c ^ kMask);
  EXPECT_TRUE(in_memory(hash));
}

}  // namespace
}  // namespace sealift::serve
