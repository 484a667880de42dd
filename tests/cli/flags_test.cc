// Every subcommand of both programs takes the output flags of cli::add_output_flags (-q/--quiet and
// --json), spelled and documented the same way, so a script can pass either to any of them. The
// table below names every subcommand, and a subcommand the programs list but the table lacks fails
// too. Only --help is run: no peers, no registry.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "cli/flags.h"
#include "env/process.h"

namespace sealift::cli {
namespace {

struct Subcommand {
  std::string program;  // "sealift-bundle" or "sealift-install"
  std::string name;     // a nested one as "parent child"
};
void PrintTo(const Subcommand& s, std::ostream* os) { *os << s.program << " " << s.name; }

const std::vector<Subcommand> kSubcommands = {
    {"sealift-bundle", "keygen"},     {"sealift-bundle", "public-key"},  {"sealift-bundle", "build"},
    {"sealift-bundle", "inspect"},    {"sealift-bundle", "lock"},        {"sealift-bundle", "lint"},
    {"sealift-bundle", "sign-blob"},  {"sealift-bundle", "kit"},         {"sealift-install", "verify"},
    {"sealift-install", "verify-blob"}, {"sealift-install", "push"},     {"sealift-install", "install"},
    {"sealift-install", "upgrade"},   {"sealift-install", "export"},     {"sealift-install", "status"},
    {"sealift-install", "robots prune"}, {"sealift-install", "serve"},
};

std::vector<std::string> words_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string word; in >> word;) out.push_back(word);
  return out;
}

std::string program_path(const std::string& program) {
  return program == "sealift-bundle" ? testenv::bundle_program() : testenv::install_program();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The subcommands a program's --help lists: the first word of each line under "Subcommands:".
std::vector<std::string> listed_subcommands(const std::string& help) {
  std::vector<std::string> out;
  bool in_section = false;
  for (const auto& line : lines_of(help)) {
    if (line == "Subcommands:") {
      in_section = true;
    } else if (in_section && line.rfind("  ", 0) == 0 && line.size() > 2 && line[2] != ' ') {
      out.push_back(line.substr(2, line.find(' ', 2) - 2));
    } else if (in_section && line.empty()) {
      break;
    }
  }
  return out;
}

// The help lines of the output flags as add_output_flags documents them.
std::vector<std::string> output_flag_lines(const std::string& help) {
  std::vector<std::string> out;
  for (const auto& line : lines_of(help))
    if (line.rfind("  -q,--quiet ", 0) == 0 || line.rfind("  --json ", 0) == 0) out.push_back(line);
  return out;
}

std::vector<std::string> expected_output_flag_lines() {
  CLI::App app;
  OutputFlags flags;
  add_output_flags(&app, flags);
  return output_flag_lines(app.help());
}

TEST(OutputFlags, TheTableNamesEverySubcommandOfBothPrograms) {
  for (const std::string program : {"sealift-bundle", "sealift-install"}) {
    auto r = testenv::run({program_path(program), "--help"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    std::vector<std::string> in_table;
    for (const auto& s : kSubcommands)
      if (s.program == program) in_table.push_back(words_of(s.name).front());
    EXPECT_EQ(listed_subcommands(r.out), in_table) << program << " --help:\n" << r.out;
  }
}

TEST(OutputFlags, AddOutputFlagsDocumentsQuietAndJson) {
  const auto lines = expected_output_flag_lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("-q,--quiet"), std::string::npos);
  EXPECT_NE(lines[1].find("--json"), std::string::npos);
}

class EverySubcommand : public testing::TestWithParam<Subcommand> {};

TEST_P(EverySubcommand, HelpListsQuietAndJsonAsAddOutputFlagsDocumentsThem) {
  const Subcommand& s = GetParam();
  std::vector<std::string> argv = {program_path(s.program)};
  for (const auto& word : words_of(s.name)) argv.push_back(word);
  argv.push_back("--help");
  auto r = testenv::run(argv);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(output_flag_lines(r.out), expected_output_flag_lines()) << s.program << " " << s.name << " --help:\n" << r.out;
}

// The help line of `flag` in `help`, from the flag to the end of its description.
std::string flag_line(const std::string& help, const std::string& flag) {
  for (const auto& line : lines_of(help)) {
    auto at = line.find(flag + " ");
    if (line.rfind("  ", 0) == 0 && at != std::string::npos && line.find_first_not_of(' ') == at) return line.substr(at);
  }
  return {};
}

// Flags several subcommands share (issue 16) are spelled and documented the same on each.
TEST(SharedFlags, ResignAndReportFlagsReadTheSameEverywhere) {
  const std::map<std::string, std::vector<std::string>> shared = {
      {"--resign-key", {"push", "install", "upgrade"}},
      {"--resign-password-file", {"push", "install", "upgrade"}},
      {"--report", {"install", "upgrade"}},
      {"--report-html", {"install", "upgrade"}},
  };
  for (const auto& [flag, commands] : shared) {
    std::string first;
    for (const auto& command : commands) {
      auto r = testenv::run({testenv::install_program(), command, "--help"});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      std::string line = flag_line(r.out, flag);
      EXPECT_FALSE(line.empty()) << command << " --help lacks " << flag << ":\n" << r.out;
      if (first.empty()) first = line;
      EXPECT_EQ(line, first) << flag << " on " << command;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(BothPrograms, EverySubcommand, testing::ValuesIn(kSubcommands),
                         [](const testing::TestParamInfo<Subcommand>& info) {
                           std::string name = info.param.program.substr(info.param.program.find('-') + 1) + "_" + info.param.name;
                           std::replace(name.begin(), name.end(), ' ', '_');
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace sealift::cli
