#include "sign/keypair.h"

#include <span>

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
  // Both files are complete on disk before either takes its name, so a failure leaves neither.
  util::AtomicFile private_file(files.private_key, 0600), public_file(files.public_key, 0644);
  auto bytes = [](const std::string& s) { return std::span(reinterpret_cast<const std::byte*>(s.data()), s.size()); };
  private_file.write(bytes(encrypted));
  public_file.write(bytes(pub));
  private_file.commit();
  public_file.commit();
}

}  // namespace sealift::sign
