// Basic auth for `sealift-install serve` from an htpasswd file, as `htpasswd -B` writes it
// (bcrypt, "$2y$"). Hashes are checked with libxcrypt's crypt_r (libcrypt, in every Debian
// system), which knows bcrypt and the SHA-crypt forms; Apache's own "$apr1$" MD5 and "{SHA}"
// forms are not crypt(3) hashes and are refused when the file is read, naming the line.
#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

namespace sealift::serve {

class Htpasswd {
 public:
  // Throws Error(Input) naming the line of an entry whose hash crypt(3) cannot check, and
  // Error(Io) when the file cannot be read.
  explicit Htpasswd(const std::filesystem::path& path);

  // Thread-safe. A bcrypt check costs milliseconds on purpose; credentials that passed are
  // remembered (by their SHA-256) so a client's next requests do not pay it again.
  bool check(std::string_view user, std::string_view password) const;

 private:
  std::map<std::string, std::string, std::less<>> hashes_;  // user -> crypt(3) hash
  mutable std::mutex mu_;
  mutable std::set<std::string> passed_;  // sha256 of "user\0password"
};

}  // namespace sealift::serve
