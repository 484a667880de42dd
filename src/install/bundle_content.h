// The bundle archive as the source of a push: manifests with their exact bytes and blobs streamed
// straight from their entries (from any offset, for resumed uploads), never extracted to disk.
#pragma once

#include <memory>
#include <string>

#include "bundle/archive_reader.h"
#include "install/verify.h"
#include "registry/image.h"

namespace sealift::install {

class BundleContent : public registry::ContentSource {
 public:
  BundleContent(const bundle::ArchiveReader& reader, const VerifiedBundle& bundle) : reader_(reader), bundle_(bundle) {}

  // Throws Error(Integrity) when the entry's bytes are not the descriptor's.
  std::string manifest_bytes(const oci::Descriptor& descriptor) override;
  // A layer that verification left to the push (VerifiedBundle::unhashed) is hashed from its first
  // byte as it is read, and its last byte is withheld behind Error(Integrity) naming the entry when
  // the digest is wrong: an upload of altered bytes never completes, whatever the registry checks.
  // Throws Error(Input) for a blob the bundle leaves out (a delta's base carries it).
  std::unique_ptr<io::Source> open_blob(const oci::Descriptor& descriptor, uint64_t offset) override;

 private:
  const bundle::ArchiveReader& reader_;
  const VerifiedBundle& bundle_;
};

}  // namespace sealift::install
