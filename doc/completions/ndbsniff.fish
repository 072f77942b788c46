complete -c ndbsniff -s r -l read -d 'Read packets from a .pcap or .pcapng file (gzip or zstd too); `-` reads standard input (a pipe or FIFO is read as a stream too). Repeat it, or name a directory (its capture files in name order), to read several files as one, in capture-time order' -r -F
complete -c ndbsniff -s i -l interface -d 'Capture live from this interface (`any` for all); needs root or CAP_NET_RAW+CAP_NET_ADMIN' -r
complete -c ndbsniff -s s -l snapshot-length -d 'Snapshot length: bytes captured per frame (live); 0 means the maximum, as with tcpdump' -r
complete -c ndbsniff -s B -l buffer-size -d 'Kernel capture buffer size in KiB (live; libpcap\'s default when not given)' -r
complete -c ndbsniff -s w -l write -d 'Also write the packets of the watched flows (what passes the filter) to this pcap file, created with mode 0600 and never through a symbolic link' -r -F
complete -c ndbsniff -s Z -l user -d 'When run as root: once the capture (file or interface) and the -w file are open, switch to this user (default: the sudo caller, else nobody)' -r
complete -c ndbsniff -l duration -d 'Stop a live capture after this many seconds' -r
complete -c ndbsniff -l stats-interval -d 'Print statistics this often while running (stderr, or stats lines with --format json or eve)' -r
complete -c ndbsniff -l tcp-idle-timeout -d 'Report and forget a TCP flow after this many seconds without a packet' -r
complete -c ndbsniff -l udp-idle-timeout -d 'Report and forget a UDP flow after this many seconds without a packet' -r
complete -c ndbsniff -l max-flows -d 'Flows tracked at once; when full, the least recently seen are evicted and reported with state `evicted`' -r
complete -c ndbsniff -l memcap -d 'Cap on bytes held at once for reassembly and NDB session audits, all flows and IP fragments together (K, M, G suffixes); at the cap, a flow that needs more stops buffering and is judged on what it has, and an audit keeps no more commands (anomaly "memcap"), counted in memcap_hits' -r
complete -c ndbsniff -l max-servers -d 'Rows of the text server table: the most interesting servers are kept (ndb-mgm first, then by flows) and one line says how many more were seen. JSON and --flows keep no table' -r
complete -c ndbsniff -l frag-timeout -d 'Drop an IP datagram still incomplete this many seconds after its first fragment (capture time when reading a file, the clock when live)' -r
complete -c ndbsniff -l frag-max-datagrams -d 'IP datagrams reassembled at once; a new one pushes out the oldest (counted as too-many-datagrams). Their bytes count against --memcap' -r
complete -c ndbsniff -l frag-max-fragments -d 'Fragments accepted per IP datagram; one more drops it (too-many-fragments)' -r
complete -c ndbsniff -l idle-timeout -d 'Set both idle timeouts at once (seconds)' -r
complete -c ndbsniff -l port -d 'Watch flows with an endpoint on this port (repeatable, or a list: --port 1186,3406; default 3406)' -r
complete -c ndbsniff -s f -l filter -d 'A BPF filter expression (libpcap syntax), applied in addition to the port selection and, like it, under every VLAN tag (up to 8): `-f "host 192.0.2.1"` also matches tagged frames. An expression that names vlan, mpls, pppoes or geneve itself is applied once, as written (write `vlan and ...` levels yourself then)' -r
complete -c ndbsniff -s c -l count -d 'Stop after reading this many packets (at least 1)' -r
complete -c ndbsniff -l threads -d 'Flow worker threads, which track and classify the flows [default: cores - 1, at least 1]. With --capture-threads N, the total over all capture threads (at least N): each capture thread gets an equal share of them, the first ones one more when they do not divide' -r
complete -c ndbsniff -l capture-threads -d 'Live capture (Linux): read the interface with N capture threads, each on its own socket, which the kernel\'s AF_PACKET fanout gives whole flows (both directions) by a flow hash; each thread decodes and routes for its own flow workers, and one report merges them. 1 to 64; not with -r, nor with -w above 1' -r
complete -c ndbsniff -l inspect-bytes -d 'Bytes of each TCP direction reassembled and inspected per flow' -r
complete -c ndbsniff -l reader -d 'How -r files are read' -r -f -a "auto\t'Classic pcap files in large blocks shared with the workers (no copy, fastest); pcapng through libpcap'
libpcap\t'Every file through libpcap\'s own reader (pcap_next_ex)'"
complete -c ndbsniff -l format -d 'Output format' -r -f -a "text\t'A table for a person, then a summary'
json\t'JSON lines: one object per flow, then one summary object'
eve\t'JSON lines in Suricata\'s EVE shape (event_type flow, stats, ...)'"
complete -c ndbsniff -l generate -d 'Write a man page or shell completions for ndbsniff to standard output, and exit' -r -f -a "man\t'The man page (roff), e.g. `ndbsniff --generate man > ndbsniff.1`'
complete-bash\t'bash completions'
complete-zsh\t'zsh completions'
complete-fish\t'fish completions'"
complete -c ndbsniff -s D -l list-interfaces -d 'List the interfaces live capture can use, as tcpdump -D does, and exit'
complete -c ndbsniff -s p -l no-promiscuous-mode -d 'Do not put the interface into promiscuous mode'
complete -c ndbsniff -l no-sandbox -d 'Do not install the system-call filter (seccomp) that otherwise confines the run once its files are open; for debugging. Privileges are given up all the same'
complete -c ndbsniff -l any-port -d 'Classify every TCP and UDP flow, whatever its ports'
complete -c ndbsniff -l flows -d 'List flows instead of server endpoints (text format), one row written as each flow ends'
complete -c ndbsniff -l audit -d 'Text format: after the table, the audit of each NDB management server seen: its cluster map (nodes, roles, addresses, versions, status), a timeline of the commands that changed the cluster and of refusals, and its clients by kind. JSON always ends with one `ndb_cluster` record per management server'
complete -c ndbsniff -s q -l quiet -d 'No summary at the end (text) and no progress line: only the report'
complete -c ndbsniff -s h -l help -d 'Print help (see more with \'--help\')'
complete -c ndbsniff -s V -l version -d 'Print version'
