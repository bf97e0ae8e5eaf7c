#!/usr/bin/perl
# sisimai_oracle.pl FILE... - the reference classification of bounce messages by Debian's
# libsisimai-perl, for tests/integration/bounce_oracle.sh: one line per recipient,
# "file<TAB>recipient<TAB>hard<TAB>reason" with hard 1 (hard bounce), 0 (soft) or -1 (neither).
use strict;
use warnings;
use Sisimai;

for my $file (@ARGV) {
    my $found = Sisimai->make($file, delivered => 1, vacation => 1) || [];
    for my $e (@$found) {
        my $soft = $e->softbounce;
        my $hard = $soft eq '1' ? 0 : $soft eq '0' ? 1 : -1;
        printf "%s\t%s\t%d\t%s\n", $file, lc($e->recipient->address), $hard, $e->reason;
    }
}
