// The platform of a tool binary from its ELF header: the real helm peer, and headers made by hand
// for what a vendor might hand --include-helm by mistake.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "env/process.h"
#include "tool/artifact.h"
#include "tool/elf.h"
#include "util/error.h"
#include "util/fs.h"

namespace sealift {
namespace {

namespace fs = std::filesystem;

// A 64-byte ELF header (plus padding) with the given identification and header fields.
std::string elf(unsigned char cls, unsigned char data, unsigned char abi, uint16_t type, uint16_t machine) {
  std::string h(256, '\0');
  h[0] = 0x7f, h[1] = 'E', h[2] = 'L', h[3] = 'F', h[4] = static_cast<char>(cls), h[5] = static_cast<char>(data);
  h[6] = 1, h[7] = static_cast<char>(abi);
  h[16] = static_cast<char>(type & 0xff), h[17] = static_cast<char>(type >> 8);
  h[18] = static_cast<char>(machine & 0xff), h[19] = static_cast<char>(machine >> 8);
  return h;
}

std::string refusal(const fs::path& file) {
  try {
    tool::elf_platform(file);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Input);
    return e.what();
  }
  ADD_FAILURE() << file << " was accepted";
  return {};
}

TEST(ElfPlatform, TheRealHelmIsForThisHost) {
  EXPECT_EQ(tool::elf_platform(testenv::peer("helm")), tool::host_platform());
  EXPECT_EQ(tool::host_platform(), "linux/amd64");  // the machines the tests run on
}

TEST(ElfPlatform, ReadsTheMachineOfExecutables) {
  testenv::TempDir dir("sealift-elf");
  util::write_file_atomic(dir / "amd64", elf(2, 1, 0, 2, 62));
  util::write_file_atomic(dir / "arm64-pie", elf(2, 1, 3, 3, 183));
  EXPECT_EQ(tool::elf_platform(dir / "amd64"), "linux/amd64");
  EXPECT_EQ(tool::elf_platform(dir / "arm64-pie"), "linux/arm64");
}

TEST(ElfPlatform, RefusesWhatIsNotA64BitLittleEndianLinuxExecutable) {
  testenv::TempDir dir("sealift-elf-bad");
  const std::map<std::string, std::pair<std::string, std::string>> cases = {
      {"script", {"#!/bin/sh\necho v3.21.4\n", "not an ELF executable"}},
      {"short", {"\x7f" "ELF", "too short"}},
      {"elf32", {elf(1, 1, 0, 2, 3), "not a 64-bit little-endian"}},
      {"big-endian", {elf(2, 2, 0, 2, 62), "not a 64-bit little-endian"}},
      {"freebsd", {elf(2, 1, 9, 2, 62), "not a Linux executable"}},
      {"object", {elf(2, 1, 0, 1, 62), "ELF type 1"}},
      {"riscv", {elf(2, 1, 0, 2, 243), "machine 243"}},
  };
  for (const auto& [name, c] : cases) {
    util::write_file_atomic(dir / name, c.first);
    std::string what = refusal(dir / name);
    EXPECT_NE(what.find((dir / name).string()), std::string::npos) << name << ": " << what;
    EXPECT_NE(what.find(c.second), std::string::npos) << name << ": " << what;
  }
  std::string missing = refusal(dir / "no-such-helm");
  EXPECT_NE(missing.find("no-such-helm: no such file"), std::string::npos) << missing;
  std::string directory = refusal(dir.path());
  EXPECT_NE(directory.find("not a regular file"), std::string::npos) << directory;
}

TEST(ToolArtifact, ReferenceIsATag) {
  EXPECT_EQ(tool::reference("helm", "v3.21.4"), "sealift/tools/helm:v3.21.4");
  EXPECT_EQ(tool::reference("helm", "v3.14.0+g3fc9f4b"), "sealift/tools/helm:v3.14.0_g3fc9f4b");
  for (const char* bad : {"", "v3 21", "-v3", "v3/21", "v3:21"}) EXPECT_THROW(tool::reference("helm", bad), Error) << bad;
}

TEST(ToolArtifact, ManifestCarriesTheBinaryWithTheEmptyConfig) {
  oci::Digest binary = oci::Digest::of("not really helm");
  tool::Artifact a = tool::make_artifact("helm", "v3.21.4", "linux/amd64", binary, 15);
  auto j = nlohmann::json::parse(a.manifest.bytes());
  EXPECT_EQ(j["artifactType"], "application/vnd.sealift.tool.v1");
  EXPECT_EQ(j["config"]["mediaType"], "application/vnd.oci.empty.v1+json");
  EXPECT_EQ(j["config"]["digest"], "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
  EXPECT_EQ(j["config"]["size"], 2);
  ASSERT_EQ(j["layers"].size(), 1u);
  EXPECT_EQ(j["layers"][0]["mediaType"], "application/vnd.sealift.tool.binary.v1");
  EXPECT_EQ(j["layers"][0]["digest"], binary.str());
  EXPECT_EQ(j["layers"][0]["annotations"]["org.opencontainers.image.title"], "helm");
  EXPECT_EQ(j["annotations"]["dev.sealift.tool.name"], "helm");
  EXPECT_EQ(j["annotations"]["dev.sealift.tool.version"], "v3.21.4");
  EXPECT_EQ(j["annotations"]["dev.sealift.tool.platform"], "linux/amd64");
  ASSERT_EQ(a.manifest.layers().size(), 1u);
  EXPECT_EQ(a.manifest.layers()[0].digest, binary);
}

}  // namespace
}  // namespace sealift
