-- tunvnet.lua: a Wireshark / tshark dissector for tunvnet's substrate protocol (the TCP
-- links between tunvnetd daemons, port 7000 by default).
--
--   tshark -X lua_script:scripts/tunvnet.lua -r underlay.pcap -Y tunvnet
--   tshark -X lua_script:scripts/tunvnet.lua -X lua_script1:port=7100 -r ...
--   wireshark: copy to ~/.local/lib/wireshark/plugins/
--
-- Frames (tunnel/frame.h): u8 version, u8 type, u16 flags, u32 payload length, all
-- big-endian, then the payload; frames are reassembled across TCP segments. Bodies as in
-- tunvnet/msg.h. A DATA frame carries one IP packet (or a super-packet, after a
-- virtio-net header when the frame says so), handed to Wireshark's own IP dissectors.

local tunvnet = Proto("tunvnet", "tunvnet substrate protocol")

-- Bit operations: Lua 5.2 (bit32, or Wireshark's bit) or 5.3+ (operators).
local band, rshift
if bit32 then
	band, rshift = bit32.band, bit32.rshift
elseif bit then
	band, rshift = bit.band, bit.rshift
else
	band = load("return function(a, b) return a & b end")()
	rshift = load("return function(a, n) return a >> n end")()
end

local HDR_LEN = 8
local MAX_PAYLOAD = 65536 + 512

-- Frame types and flags, as in tunnel/frame.h.
local types = {
	[1] = "HELLO", [2] = "AUTH", [3] = "PEERS", [4] = "ROUTES", [5] = "DATA",
	[6] = "PING", [7] = "PONG", [8] = "MIGRATE", [9] = "MIGRATE_DONE",
}
local F_FULL_TABLE = 0x0001
local F_ACK_REQ = 0x0002
local F_ACK = 0x0004
local F_FORWARDED = 0x0010
-- DATA: a virtio-net header precedes the packet (a super-packet as the kernel made it).
local F_VNET_HDR = 0x0020
local VNET_HDR_LEN = 10

local families = { [0] = "none", [4] = "IPv4", [6] = "IPv6" }
local gso_types = {
	[0] = "none", [1] = "TCPv4", [3] = "UDP", [4] = "TCPv6", [5] = "UDP_L4", [0x80] = "ECN",
}

local f = tunvnet.fields
f.version = ProtoField.uint8("tunvnet.version", "Version")
f.type = ProtoField.uint8("tunvnet.type", "Type", base.DEC, types)
f.flags = ProtoField.uint16("tunvnet.flags", "Flags", base.HEX)
f.flag_full = ProtoField.bool("tunvnet.flags.full_table", "Full table", 16, nil, F_FULL_TABLE)
f.flag_ackreq = ProtoField.bool("tunvnet.flags.ack_req", "Ack requested", 16, nil, F_ACK_REQ)
f.flag_ack = ProtoField.bool("tunvnet.flags.ack", "Ack", 16, nil, F_ACK)
f.flag_fwd = ProtoField.bool("tunvnet.flags.forwarded", "Forwarded", 16, nil, F_FORWARDED)
f.flag_vnet = ProtoField.bool("tunvnet.flags.vnet_hdr", "virtio-net header", 16, nil,
			      F_VNET_HDR)
f.length = ProtoField.uint32("tunvnet.length", "Length", base.DEC)

f.name = ProtoField.string("tunvnet.name", "Node name")
f.nonce = ProtoField.bytes("tunvnet.nonce", "Nonce")
f.family = ProtoField.uint8("tunvnet.family", "Family", base.DEC, families)
f.addr4 = ProtoField.ipv4("tunvnet.addr", "Address")
f.addr6 = ProtoField.ipv6("tunvnet.addr6", "Address")
f.port = ProtoField.uint16("tunvnet.port", "Port")
f.mac = ProtoField.bytes("tunvnet.mac", "Proof (MAC)")
f.count = ProtoField.uint16("tunvnet.count", "Count")
f.member = ProtoField.none("tunvnet.member", "Member")
f.route = ProtoField.none("tunvnet.route", "Route")
f.vip4 = ProtoField.ipv4("tunvnet.vip", "VIP")
f.vip6 = ProtoField.ipv6("tunvnet.vip6", "VIP")
f.epoch = ProtoField.uint64("tunvnet.epoch", "Epoch")
f.rflags = ProtoField.uint8("tunvnet.route_flags", "Route flags", base.HEX)
f.withdrawn = ProtoField.bool("tunvnet.withdrawn", "Withdrawn", 8, nil, 0x01)
f.node = ProtoField.string("tunvnet.node", "Node")
f.ms = ProtoField.uint64("tunvnet.ms", "Sender's monotonic ms")
f.op = ProtoField.uint64("tunvnet.op", "Operation")
f.netns = ProtoField.string("tunvnet.netns", "Network namespace")
f.status = ProtoField.uint8("tunvnet.status", "Status")
f.msg = ProtoField.string("tunvnet.msg", "Message")
f.vnet = ProtoField.none("tunvnet.vnet_hdr", "virtio-net header")
f.vnet_flags = ProtoField.uint8("tunvnet.vnet.flags", "Flags", base.HEX)
f.vnet_gso = ProtoField.uint8("tunvnet.vnet.gso_type", "GSO type", base.HEX, gso_types)
f.vnet_hdrlen = ProtoField.uint16("tunvnet.vnet.hdr_len", "Header length")
f.vnet_gsosize = ProtoField.uint16("tunvnet.vnet.gso_size", "GSO size")
f.vnet_cstart = ProtoField.uint16("tunvnet.vnet.csum_start", "Checksum start")
f.vnet_coff = ProtoField.uint16("tunvnet.vnet.csum_offset", "Checksum offset")

local e_malformed = ProtoExpert.new("tunvnet.malformed", "Malformed tunvnet body",
				    expert.group.MALFORMED, expert.severity.ERROR)
local e_version = ProtoExpert.new("tunvnet.bad_version", "Unknown frame version",
				  expert.group.PROTOCOL, expert.severity.WARN)
tunvnet.experts = { e_malformed, e_version }

local prefs = tunvnet.prefs
prefs.port = Pref.uint("TCP port", 7000, "The port tunvnetd listens on")

local ip_dissector = Dissector.get("ip")
local ipv6_dissector = Dissector.get("ipv6")
local data_dissector = Dissector.get("data")

-- A body reader: each get checks the length first and reports a short body once.
local function reader(buf, tree, pinfo)
	local r = { off = 0, ok = true }
	function r.need(n)
		if not r.ok or r.off + n > buf:len() then
			if r.ok then
				tree:add_proto_expert_info(e_malformed, "body too short")
			end
			r.ok = false
			return nil
		end
		local t = buf(r.off, n)
		r.off = r.off + n
		return t
	end
	return r
end

local function add_name(r, tree, field)
	local l = r.need(1)
	if not l then return nil end
	local n = l:uint()
	local t = r.need(n)
	if not t then return nil end
	tree:add(field, t)
	return t:string()
end

-- u8 family, address (4 | 16), u16 port; family 0: no address, port 0.
local function add_sockaddr(r, tree)
	local fam = r.need(1)
	if not fam then return end
	tree:add(f.family, fam)
	if fam:uint() == 4 then
		local a = r.need(4)
		if a then tree:add(f.addr4, a) end
	elseif fam:uint() == 6 then
		local a = r.need(16)
		if a then tree:add(f.addr6, a) end
	end
	local p = r.need(2)
	if p then tree:add(f.port, p) end
end

local function body_hello(buf, tree, pinfo)
	local r = reader(buf, tree, pinfo)
	local name = add_name(r, tree, f.name)
	local n = r.need(32)
	if n then tree:add(f.nonce, n) end
	add_sockaddr(r, tree)
	return name and ("from " .. name) or ""
end

local function body_peers(buf, tree, pinfo)
	local r = reader(buf, tree, pinfo)
	local c = r.need(2)
	if not c then return "" end
	tree:add(f.count, c)
	local names = {}
	for _ = 1, c:uint() do
		local start = r.off
		local st = tree:add(f.member, buf(r.off, 0))
		local name = add_name(r, st, f.name)
		add_sockaddr(r, st)
		if not r.ok then break end
		st:set_len(r.off - start)
		st:append_text(": " .. name)
		names[#names + 1] = name
	end
	return table.concat(names, " ")
end

local function body_routes(buf, tree, pinfo)
	local r = reader(buf, tree, pinfo)
	local c = r.need(2)
	if not c then return "" end
	tree:add(f.count, c)
	local shown = {}
	for _ = 1, c:uint() do
		local start = r.off
		local st = tree:add(f.route, buf(r.off, 0))
		local fam = r.need(1)
		if not fam then break end
		st:add(f.family, fam)
		local vip, a
		if fam:uint() == 4 then
			a = r.need(4)
			if a then st:add(f.vip4, a); vip = tostring(a:ipv4()) end
		elseif fam:uint() == 6 then
			a = r.need(16)
			if a then st:add(f.vip6, a); vip = tostring(a:ipv6()) end
		else
			st:add_proto_expert_info(e_malformed, "unknown address family")
			break
		end
		local ep = r.need(8)
		if ep then st:add(f.epoch, ep) end
		local fl = r.need(1)
		if fl then
			local ft = st:add(f.rflags, fl)
			ft:add(f.withdrawn, fl)
		end
		local node = add_name(r, st, f.node)
		if not r.ok then break end
		st:set_len(r.off - start)
		local text = string.format("%s -> %s epoch %s%s", vip, node, tostring(ep:uint64()),
					   band(fl:uint(), 1) ~= 0 and " withdrawn" or "")
		st:append_text(": " .. text)
		shown[#shown + 1] = text
	end
	return table.concat(shown, ", ")
end

local function body_ping(buf, tree, pinfo)
	local r = reader(buf, tree, pinfo)
	local t = r.need(8)
	if t then tree:add(f.ms, t) end
	return ""
end

local function body_migrate(buf, tree, pinfo)
	local r = reader(buf, tree, pinfo)
	local op = r.need(8)
	if op then tree:add(f.op, op) end
	local l = r.need(2)
	if l then
		local ns = r.need(l:uint())
		if ns then tree:add(f.netns, ns) end
	end
	local n = r.need(1)
	if not n then return "" end
	tree:add(f.count, n)
	for _ = 1, n:uint() do
		local fam = r.need(1)
		if not fam then break end
		if fam:uint() == 4 then
			local a = r.need(4)
			if a then tree:add(f.vip4, a) end
		elseif fam:uint() == 6 then
			local a = r.need(16)
			if a then tree:add(f.vip6, a) end
		else
			break
		end
	end
	return ""
end

local function body_migrate_done(buf, tree, pinfo)
	local r = reader(buf, tree, pinfo)
	for _, fld in ipairs({ { f.op, 8 }, { f.status, 1 }, { f.epoch, 8 } }) do
		local t = r.need(fld[2])
		if t then tree:add(fld[1], t) end
	end
	local l = r.need(2)
	if l then
		local m = r.need(l:uint())
		if m then tree:add(f.msg, m) end
	end
	return ""
end

local function body_data(buf, tree, pinfo, flags, root)
	local off = 0
	if band(flags, F_VNET_HDR) ~= 0 and buf:len() >= VNET_HDR_LEN then
		-- virtio-net header fields are little-endian (TUN on x86, virtio 1.0)
		local v = tree:add(f.vnet, buf(0, VNET_HDR_LEN))
		v:add(f.vnet_flags, buf(0, 1))
		v:add(f.vnet_gso, buf(1, 1))
		v:add_le(f.vnet_hdrlen, buf(2, 2))
		v:add_le(f.vnet_gsosize, buf(4, 2))
		v:add_le(f.vnet_cstart, buf(6, 2))
		v:add_le(f.vnet_coff, buf(8, 2))
		off = VNET_HDR_LEN
	end
	if buf:len() <= off then return "" end
	local inner = buf(off):tvb()
	local ver = rshift(inner(0, 1):uint(), 4)
	if ver == 4 then
		ip_dissector:call(inner, pinfo, root)
	elseif ver == 6 then
		ipv6_dissector:call(inner, pinfo, root)
	else
		data_dissector:call(inner, pinfo, root)
	end
	return ""
end

local bodies = {
	[1] = body_hello, [3] = body_peers, [4] = body_routes, [6] = body_ping,
	[7] = body_ping, [8] = body_migrate, [9] = body_migrate_done,
}

local function pdu_len(tvb, pinfo, offset)
	local len = tvb(offset + 4, 4):uint()
	if len > MAX_PAYLOAD then
		-- not a frame we know: take the rest, the dissector will say what is wrong
		return tvb:len() - offset
	end
	return HDR_LEN + len
end

local function dissect_frame(tvb, pinfo, root)
	local version = tvb(0, 1):uint()
	local ftype = tvb(1, 1):uint()
	local flags = tvb(2, 2):uint()
	local len = tvb(4, 4):uint()
	local name = types[ftype] or string.format("type %d", ftype)
	local tree = root:add(tunvnet, tvb(0, math.min(tvb:len(), HDR_LEN + len)),
			      "tunvnet " .. name)

	tree:add(f.version, tvb(0, 1))
	if version ~= 1 then
		tree:add_proto_expert_info(e_version)
	end
	tree:add(f.type, tvb(1, 1))
	local ft = tree:add(f.flags, tvb(2, 2))
	ft:add(f.flag_full, tvb(2, 2))
	ft:add(f.flag_ackreq, tvb(2, 2))
	ft:add(f.flag_ack, tvb(2, 2))
	ft:add(f.flag_fwd, tvb(2, 2))
	ft:add(f.flag_vnet, tvb(2, 2))
	tree:add(f.length, tvb(4, 4))

	local info = name
	if tvb:len() > HDR_LEN and len > 0 then
		local body = tvb(HDR_LEN, math.min(len, tvb:len() - HDR_LEN)):tvb()
		local text
		if ftype == 5 then
			text = body_data(body, tree, pinfo, flags, root)
		elseif ftype == 2 then
			tree:add(f.mac, body(0))
			text = ""
		elseif bodies[ftype] then
			text = bodies[ftype](body, tree, pinfo)
		end
		if text and text ~= "" then
			info = info .. " " .. text
		end
	end
	tree:append_text(string.format(", %d bytes", len))
	return info
end

function tunvnet.dissector(tvb, pinfo, root)
	local infos = {}
	local function one(t, p, r)
		infos[#infos + 1] = dissect_frame(t, p, r)
		return t:len()
	end
	local n = dissect_tcp_pdus(tvb, root, HDR_LEN, pdu_len, one)
	-- DATA frames let IP write the columns (its addresses, then TCP's); the others
	-- say what they are.
	local ctl = {}
	for _, s in ipairs(infos) do
		if s:sub(1, 4) ~= "DATA" then ctl[#ctl + 1] = s end
	end
	if #ctl > 0 then
		pinfo.cols.protocol = "tunvnet"
		pinfo.cols.info = table.concat(ctl, "; ")
	end
	return n
end

local registered
local function register_port()
	local t = DissectorTable.get("tcp.port")
	if registered then t:remove(registered, tunvnet) end
	registered = prefs.port
	t:add(registered, tunvnet)
end

function tunvnet.prefs_changed()
	register_port()
end

register_port()
