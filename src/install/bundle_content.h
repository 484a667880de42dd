// The bundle archive as the source of a push: manifests with their exact bytes and blobs streamed
// straight from their entries (from any offset, for resumed uploads), never extracted to disk.
#pragma once

#include <memory>
#include <string>

#include "bundle/archive_reader.h"
#include "registry/image.h"

namespace sealift::install {

class BundleContent : public registry::ContentSource {
 public:
  explicit BundleContent(const bundle::ArchiveReader& reader) : reader_(reader) {}

  // Throws Error(Integrity) when the entry's bytes are not the descriptor's.
  std::string manifest_bytes(const oci::Descriptor& descriptor) override;
  // The registry checks the digest of what it receives, so bytes altered after verification are
  // refused there. Throws Error(Input) for a blob the bundle leaves out (a delta's base carries it).
  std::unique_ptr<io::Source> open_blob(const oci::Descriptor& descriptor, uint64_t offset) override;

 private:
  const bundle::ArchiveReader& reader_;
};

}  // namespace sealift::install
