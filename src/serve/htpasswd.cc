#include "serve/htpasswd.h"

#include <crypt.h>

#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "oci/digest.h"
#include "util/error.h"
#include "util/fs.h"

namespace sealift::serve {

Htpasswd::Htpasswd(const std::filesystem::path& path) {
  std::string text = util::read_file(path);
  size_t line_no = 0, start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.front() == '#') continue;
    size_t colon = line.find(':');
    if (colon == 0 || colon == std::string::npos)
      throw Error(ErrorKind::Input, fmt::format("{} line {}: not \"user:hash\"", path.string(), line_no));
    std::string hash = line.substr(colon + 1);
    if (hash.empty() || hash.front() != '$' || crypt_checksalt(hash.c_str()) != CRYPT_SALT_OK)
      throw Error(ErrorKind::Input,
                  fmt::format("{} line {}: the hash of user {} is not one crypt(3) can check", path.string(), line_no,
                              line.substr(0, colon)),
                  "make the file with `htpasswd -B` (bcrypt)");
    hashes_[line.substr(0, colon)] = hash;
  }
  if (hashes_.empty()) throw Error(ErrorKind::Input, fmt::format("{}: no users", path.string()), "add one with `htpasswd -B`");
}

bool Htpasswd::check(std::string_view user, std::string_view password) const {
  auto it = hashes_.find(user);
  if (it == hashes_.end()) return false;
  std::string key = oci::Digest::of(std::string(user) + '\0' + std::string(password)).str();
  {
    std::lock_guard lock(mu_);
    if (passed_.count(key)) return true;
  }
  // crypt_r stops at the first NUL: a password holding one is not the password it was hashed from.
  if (password.find('\0') != std::string_view::npos) return false;
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  const char* out = crypt_r(std::string(password).c_str(), it->second.c_str(), data.get());
  if (!out || out[0] == '*' || it->second != out) return false;
  std::lock_guard lock(mu_);
  passed_.insert(key);
  return true;
}

}  // namespace sealift::serve
