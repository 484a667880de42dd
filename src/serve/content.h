// What `sealift-install serve` serves: a verified bundle seen as the registry a push would have
// made of it (install/relocation.h): every image at PROJECT/<source path>, the chart at
// PROJECT/charts/<name>, each with its tag, its cosign `.sig` tag, its Sigstore bundle referrers
// (through the referrers API, and in the referrers tag "sha256-<hex>" for clients and copies that
// know only tags), and the blobs under them. Manifests are small and held in memory; blobs stay in
// the archive, and an answer only says which entry and which bytes of it to send.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bundle/archive_reader.h"
#include "install/relocation.h"
#include "install/verify.h"
#include "oci/digest.h"
#include "oci/manifest.h"

namespace sealift::serve {

struct Request {
  std::string_view method;
  std::string_view path;   // percent-decoded, no query
  std::string_view range;  // the Range header, empty when absent
  std::string_view n;      // query parameters of _catalog, tags/list and referrers; empty when absent
  std::string_view last;
  std::string_view artifact_type;
  bool has_n = false;
};

struct Answer {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  // The body: `body`, or `length` bytes of archive entry `entry` from `offset` when entry is set.
  std::string body;
  const std::string* static_body = nullptr;  // a manifest held by the ServedBundle (no copy)
  std::string entry;
  uint64_t offset = 0;
  uint64_t length = 0;
};

class ServedBundle {
 public:
  // Throws Error(Usage) for a delta bundle: the blobs it leaves out are in its base, not here.
  ServedBundle(const bundle::ArchiveReader& reader, const install::VerifiedBundle& bundle,
               const install::Relocation& relocation);

  Answer answer(const Request& request) const;

  // The repositories with their tags, for the start-up message.
  std::map<std::string, std::vector<std::string>> listing() const;

 private:
  struct Repository {
    std::map<std::string, oci::Digest> tags;
    std::map<oci::Digest, std::string> manifests;  // digest -> media type
    std::map<oci::Digest, uint64_t> blobs;         // carried in the archive, manifests included
    std::map<oci::Digest, std::vector<oci::Descriptor>> referrers;  // subject -> referrer descriptors
  };
  void add(const std::string& repository, const std::string& tag, const install::BundleObject& object,
           const install::BundleObject& signature, const std::vector<const install::BundleObject*>& referrers);
  void add_object(Repository& repo, const install::BundleObject& object);

  const bundle::ArchiveReader& reader_;
  const install::VerifiedBundle& bundle_;
  std::map<std::string, Repository> repositories_;
  std::map<oci::Digest, std::string> manifest_bytes_;
};

}  // namespace sealift::serve
