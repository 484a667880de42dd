#include "sign/keypair.h"

#include <fmt/format.h>

#include "util/error.h"
#include "util/fs.h"

namespace sealift::sign {

namespace fs = std::filesystem;

KeyPairFiles KeyPairFiles::with_prefix(const fs::path& prefix) {
  return {fs::path(prefix.string() + ".key"), fs::path(prefix.string() + ".pub")};
}

void write_key_pair(const KeyPairFiles& files, const PrivateKey& key, const Secret& password, KeyFileFormat format,
                    bool overwrite) {
  if (!overwrite) {
    for (const auto& p : {files.private_key, files.public_key}) {
      std::error_code ec;
      if (fs::exists(fs::symlink_status(p, ec)))
        throw Error(ErrorKind::Usage, fmt::format("{} already exists; not overwriting it", p.string()),
                    "pass --force to replace the key pair, or choose another --output-prefix / --dir");
    }
  }
  std::string encrypted = key.to_encrypted_pem(password, format);
  std::string pub = key.public_key().pem();
  util::write_file_atomic(files.private_key, encrypted, 0600);
  util::write_file_atomic(files.public_key, pub, 0644);
}

}  // namespace sealift::sign
