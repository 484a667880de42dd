// Basic auth for `sealift-install serve` from an htpasswd file, as `htpasswd -B` writes it
// (bcrypt, "$2y$"). Hashes are checked with libxcrypt's crypt_r (libcrypt, in every Debian
// system), which knows bcrypt and the SHA-crypt forms; Apache's own "$apr1$" MD5 and "{SHA}"
// forms are not crypt(3) hashes and are refused when the file is read, naming the line.
#pragma once

#include <array>
#include <filesystem>
#include <map>
#include <mutex>
#include <semaphore>
#include <set>
#include <string>
#include <string_view>

namespace sealift::serve {

class Htpasswd {
 public:
  // Throws Error(Input) naming the line of an entry whose hash crypt(3) cannot check, and
  // Error(Io) when the file cannot be read.
  explicit Htpasswd(const std::filesystem::path& path);

  // Thread-safe. A bcrypt check costs milliseconds on purpose, and an unknown user costs one too
  // (against the costliest hash of the file), so the time taken does not tell which user names
  // exist. At most kConcurrentChecks run at once; the others wait, so a flood of guesses takes
  // that many cores, not all of them. Credentials that passed are remembered (by an HMAC under
  // a key of this process) so a client's next requests do not pay it again.
  bool check(std::string_view user, std::string_view password) const;
  // Whether these credentials passed check() before (no hashing).
  bool passed_before(std::string_view user, std::string_view password) const;

  static constexpr std::ptrdiff_t kConcurrentChecks = 2;

 private:
  std::string cache_key(std::string_view user, std::string_view password) const;

  std::map<std::string, std::string, std::less<>> hashes_;  // user -> crypt(3) hash
  std::string costliest_;  // the hash an unknown user's password is checked against
  std::array<unsigned char, 32> cache_key_{};
  mutable std::counting_semaphore<kConcurrentChecks> checking_{kConcurrentChecks};
  mutable std::mutex mu_;
  mutable std::set<std::string> passed_;  // HMAC-SHA256 of "user\0password" under cache_key_
};

}  // namespace sealift::serve
