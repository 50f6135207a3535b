// SO_PEERCRED lookup and the unix:IDENTITY entries of --forwarded-allow-ips (server/engine/peer_cred.h).
#include "server/engine/peer_cred.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

namespace esg::engine {
namespace {

TEST(PeerCredTest, ReadsTheConnectingProcessIdentity) {
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  PeerCredentials peer = GetPeerCredentials(pair[0]);
  EXPECT_TRUE(peer.known);
  EXPECT_EQ(peer.uid, geteuid());
  EXPECT_EQ(peer.gid, getegid());
  close(pair[0]);
  close(pair[1]);
  EXPECT_FALSE(GetPeerCredentials(-1).known);
}

TEST(PeerCredTest, ParsesRules) {
  UnixPeerRule rule;
  std::string error;
  ASSERT_TRUE(ParseUnixPeerRule("uid=33", &rule, &error));
  EXPECT_EQ(rule.kind, UnixPeerRule::Kind::kUid);
  EXPECT_EQ(rule.id, 33u);
  ASSERT_TRUE(ParseUnixPeerRule("gid=0", &rule, &error));
  EXPECT_EQ(rule.kind, UnixPeerRule::Kind::kGid);
  ASSERT_TRUE(ParseUnixPeerRule("root", &rule, &error));
  EXPECT_EQ(rule.kind, UnixPeerRule::Kind::kUid);
  EXPECT_EQ(rule.id, 0u);
  ASSERT_TRUE(ParseUnixPeerRule("1234", &rule, &error));  // a number is a uid
  EXPECT_EQ(rule.id, 1234u);
  ASSERT_TRUE(ParseUnixPeerRule("group=root", &rule, &error));
  EXPECT_EQ(rule.kind, UnixPeerRule::Kind::kGid);
  for (const char* bad : {"", "uid=", "uid=-1", "uid=4294967295", "uid=99999999999", "gid=1x", "user=",
                          "no-such-user-for-esg", "group=no-such-group-for-esg", "shell=/bin/sh"}) {
    error.clear();
    EXPECT_FALSE(ParseUnixPeerRule(bad, &rule, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST(PeerCredTest, Matches) {
  std::vector<UnixPeerRule> rules = {{UnixPeerRule::Kind::kUid, 33}, {UnixPeerRule::Kind::kGid, 44}};
  EXPECT_TRUE(MatchesUnixPeer(rules, {true, 33, 1}));
  EXPECT_TRUE(MatchesUnixPeer(rules, {true, 1, 44}));
  EXPECT_FALSE(MatchesUnixPeer(rules, {true, 44, 33}));
  EXPECT_FALSE(MatchesUnixPeer(rules, {false, 33, 44}));
  EXPECT_FALSE(MatchesUnixPeer({}, {true, 33, 44}));
}

}  // namespace
}  // namespace esg::engine
