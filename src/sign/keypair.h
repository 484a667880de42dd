// Writing a new key pair to disk the way `cosign generate-key-pair` does: `cosign.key` (0600)
// and `cosign.pub` (0644), each written atomically, never replacing an existing file unasked.
#pragma once

#include <filesystem>

#include "sign/key.h"
#include "sign/secret.h"

namespace sealift::sign {

struct KeyPairFiles {
  std::filesystem::path private_key;
  std::filesystem::path public_key;

  // "<prefix>.key" and "<prefix>.pub", as cosign's --output-key-prefix.
  static KeyPairFiles with_prefix(const std::filesystem::path& prefix);
};

// Encrypts `key` under `password` and writes both files. Unless `overwrite`, throws Error(Usage)
// before writing anything when either file exists.
void write_key_pair(const KeyPairFiles& files, const PrivateKey& key, const Secret& password,
                    KeyFileFormat format = KeyFileFormat::Current, bool overwrite = false);

}  // namespace sealift::sign
