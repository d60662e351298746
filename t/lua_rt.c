/*
 * t/lua_rt.c - the Lua runtime: script errors at load (syntax, top level,
 * a visitor without visit), function binding, the typed ctx, every sandbox
 * limit failing only its call with its reason (instruction budget, memory,
 * io, os, require, dofile, load of bytecode, string.dump, error() with a
 * traceback), visitors reading and setting the model (and refusing bad
 * values), lookup tables, states per thread.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "caom/caom.h"
#include "caom/fits.h"
#include "caom/lua_rt.h"
#include "lib/strmap.h"
#include "lib/xmalloc.h"
#include "tap.h"

static char dir[] = "/tmp/caom2ingest-lua.XXXXXX";

/* A header dump: "KEY = VALUE" items, 80 columns each, "--" starts the next HDU. */
static struct fits_file *
dump(const char *const *cards)
{
	struct fits_file *f;
	char *buf = xstrdup(""), *next, *cause = NULL;
	const char *const *c;

	for (c = cards; *c != NULL; c++) {
		const char *eq = strstr(*c, " = ");

		if (strcmp(*c, "--") == 0)
			next = xasprintf("%s%-80s\n", buf, "END");
		else if (eq != NULL)
			next = xasprintf("%s%-8.*s= %-70s\n", buf, (int)(eq - *c), *c, eq + 3);
		else
			next = xasprintf("%s%-80s\n", buf, *c);
		free(buf);
		buf = next;
	}
	next = xasprintf("%s%-80s\n", buf, "END");
	free(buf);
	if (fits_read_dump("t.fits.header", next, strlen(next), &f, &cause) == -1)
		bail("dump: %s", cause);
	free(next);
	return f;
}

static const char *const cards[] = {
	"SIMPLE = T", "BITPIX = 16", "NAXIS = 0", "OBJECT = 'M31     '", "EXPTIME = 30.5",
	"NCOMBINE = 3", "BIG = 1.5D3", "FLAT_1 = 'dao_c122_2016_000001'",
	"FLAT_2 = 'dao_c122_2016_000002'", "HUGE = 123456789012345678901234567890",
	"--", "XTENSION = 'IMAGE   '", "EXTNAME = 'SCI     '", "GAIN = 2", NULL
};

static struct lua_rt *
rt_with(const char *name, const char *text, const struct lua_rt_limits *lim)
{
	struct lua_rt *rt = lua_rt_new(lim);
	char *cause = NULL;

	if (lua_rt_load_text(rt, LUA_RT_FUNCTIONS, name, text, strlen(text), &cause) == -1)
		bail("%s: %s", name, cause);
	return rt;
}

/* Call fn once in a session over the test headers; the result as text ("nil", "int 3", ...). */
static char *
call1(struct lua_rt *rt, const char *fn, int ext, char **cause)
{
	struct fits_file *f = dump(cards);
	struct strmap *groups = strmap_new();
	struct lua_rt_input in = { f, "cadc:TEST/x.fits", "x.fits", groups };
	struct lua_rt_session *s;
	struct lua_rt_value v;
	char *out = NULL;
	int id;
	static char night[] = "20160512";

	strmap_put(groups, "night", night);
	*cause = NULL;
	if ((id = lua_rt_bind(rt, fn, cause)) == -1)
		goto done;
	if ((s = lua_rt_begin(rt, &in, cause)) == NULL)
		goto done;
	if (lua_rt_call(s, id, ext, &v, cause) == 0) {
		switch (v.type) {
		case LUA_RT_NIL:
			out = xstrdup("nil");
			break;
		case LUA_RT_BOOL:
			out = xstrdup(v.b ? "true" : "false");
			break;
		case LUA_RT_INT:
			out = xasprintf("int %lld", v.i);
			break;
		case LUA_RT_FLOAT:
			out = xasprintf("float %.17g", v.d);
			break;
		case LUA_RT_STRING:
			out = xasprintf("string %s", v.s);
			break;
		}
		lua_rt_value_clear(&v);
	}
	lua_rt_end(s);
done:
	strmap_free(groups);
	fits_file_free(f);
	return out;
}

/* is_string on call1's result, freeing it. */
static void
is_call(struct lua_rt *rt, const char *fn, int ext, const char *want, const char *what)
{
	char *cause = NULL, *got = call1(rt, fn, ext, &cause);

	if (!is_string(want, got, "%s", what) && cause != NULL)
		diag("cause: %s", cause);
	free(got);
	free(cause);
}

/* The failure of a call (NULL when it succeeded). */
static char *
fail1(struct lua_rt *rt, const char *fn)
{
	char *cause = NULL, *got = call1(rt, fn, 0, &cause);

	if (got != NULL)
		diag("%s() returned %s", fn, got);
	free(got);
	return cause;
}

static void
test_load_errors(void)
{
	struct lua_rt *rt = lua_rt_new(NULL);
	char *cause = NULL;
	const char *bad = "function f()\n  x = = 1\nend\n";

	ok(lua_rt_load_text(rt, LUA_RT_FUNCTIONS, "bad.lua", bad, strlen(bad), &cause) == -1,
	    "a syntax error fails the load");
	is_string("bad.lua:2: unexpected symbol near '='", cause, "... as FILE:LINE: message");
	free(cause);
	cause = NULL;
	ok(lua_rt_load_text(rt, LUA_RT_FUNCTIONS, "top.lua", "local x = 1\nerror('boom')\n", 25,
	    &cause) == -1, "an error in the top level fails the load");
	ok(cause != NULL && strncmp(cause, "top.lua:2: boom in its top level\nstack traceback:",
	    49) == 0, "... with FILE:LINE: message and a traceback");
	diag("%s", cause != NULL ? cause : "");
	free(cause);
	cause = NULL;
	ok(lua_rt_load_text(rt, LUA_RT_VISITOR, "v.lua", "function vist(o) end", 20, &cause) == -1,
	    "a visitor without visit fails the load");
	is_string("v.lua: defines no function visit(obs, ctx)", cause, "... saying so");
	free(cause);
	cause = NULL;
	ok(lua_rt_load(rt, LUA_RT_FUNCTIONS, "/nonexistent/f.lua", &cause) == -1 &&
	    cause != NULL && strstr(cause, "/nonexistent/f.lua") != NULL,
	    "a missing script names its path: %s", cause != NULL ? cause : "");
	free(cause);
	lua_rt_free(rt);
}

static const char funcs[] =
	"function get_float() return 1.25 end\n"
	"function get_int() return 42 end\n"
	"function get_str() return 'abc' end\n"
	"function get_bool() return false end\n"
	"function get_nil() return nil end\n"
	"function get_table() return {} end\n"
	"local function hidden() return 1 end\n"
	"not_a_function = 3\n"
	"function get_exposure(ctx)\n"
	"  local h = ctx.header\n"
	"  if h.NCOMBINE ~= nil then return h.EXPTIME * h.NCOMBINE end\n"
	"  return h.EXPTIME\n"
	"end\n"
	"function types(ctx)\n"
	"  local h = ctx.header\n"
	"  return table.concat({math.type(h.EXPTIME), math.type(h.NCOMBINE), type(h.OBJECT),\n"
	"    type(h.SIMPLE), tostring(h.SIMPLE), tostring(h.MISSING), tostring(h.object),\n"
	"    tostring(h.BIG), math.type(h.HUGE), tostring(h.OBJECT)}, ' ')\n"
	"end\n"
	"function ctxinfo(ctx)\n"
	"  local n = 0\n"
	"  for k, v in pairs(ctx.header) do n = n + 1 end\n"
	"  return table.concat({tostring(ctx.ext), ctx.uri, ctx.file, ctx.groups.night,\n"
	"    tostring(#ctx.headers), tostring(ctx.headers[1].EXTNAME), tostring(n),\n"
	"    tostring(ctx.headers[0] == ctx.header), tostring(ctx.headers[5])}, ' ')\n"
	"end\n"
	"function ext_gain(ctx) return ctx.header.GAIN end\n"
	"function write_header(ctx) ctx.header.EXPTIME = 1 end\n"
	"function flats(ctx) return table.concat(caom2.prefixed(ctx.header, 'FLAT_'), ',') end\n"
	"function keys(ctx) return table.concat(caom2.keys(ctx.header, 'N'), ',') end\n"
	"stash = nil\n"
	"function keep(ctx) stash = ctx.header; return 1 end\n"
	"function use_kept(ctx) return stash.EXPTIME end\n";

static void
test_bind_and_ctx(void)
{
	struct lua_rt *rt = rt_with("f.lua", funcs, NULL);
	char *cause = NULL;
	int id;

	id = lua_rt_bind(rt, "get_exposure(header)", &cause);
	ok(id >= 0, "get_exposure(header) binds");
	is_int(id, lua_rt_bind(rt, "get_exposure()", &cause), "... once, whatever its arguments");
	is_string("get_exposure", lua_rt_fn_name(rt, id), "... under its name");
	is_int(-1, lua_rt_bind(rt, "get_y(uri)", &cause), "an unknown name does not bind");
	is_string("unknown function get_y (no function script defines a global function of that "
	    "name)", cause, "... and says so (the caller adds the blueprint's FILE:LINE)");
	free(cause);
	cause = NULL;
	is_int(-1, lua_rt_bind(rt, "hidden()", &cause), "a local function is not bound");
	free(cause);
	cause = NULL;
	is_int(-1, lua_rt_bind(rt, "not_a_function()", &cause), "nor a global that is no function");
	free(cause);
	cause = NULL;
	is_int(-1, lua_rt_bind(rt, "1x()", &cause), "nor what is not a name");
	free(cause);

	is_call(rt, "get_float()", 0, "float 1.25", "a float");
	is_call(rt, "get_int()", 0, "int 42", "an integer");
	is_call(rt, "get_str()", 0, "string abc", "a string");
	is_call(rt, "get_bool()", 0, "false", "a boolean");
	is_call(rt, "get_nil()", 0, "nil", "nil (not set)");
	cause = fail1(rt, "get_table()");
	is_string("f.lua: get_table() returned a table (a blueprint function returns a number, a "
	    "string, a boolean or nil)", cause, "a table is refused");
	free(cause);
	is_call(rt, "get_exposure(header)", 0, "float 91.5", "EXPTIME x NCOMBINE from ctx.header");
	is_call(rt, "types(header)", 0,
	    "string float integer string boolean true nil M31 1500.0 float M31",
	    "header values typed as cfitsio types them (D exponents, 64-bit overflow to float, "
	    "trailing blanks dropped, keys case-insensitive)");
	is_call(rt, "ctxinfo()", 0, "string 0 cadc:TEST/x.fits x.fits 20160512 2 SCI 10 true nil",
	    "ctx.ext, uri, file, groups, headers[n] and pairs over the header");
	is_call(rt, "ext_gain()", 1, "int 2", "ctx.header is HDU ctx.ext");
	is_call(rt, "ext_gain()", 0, "nil", "an absent keyword is nil");
	is_call(rt, "flats()", 0, "string dao_c122_2016_000001,dao_c122_2016_000002",
	    "caom2.prefixed: the values of FLAT_n in order");
	is_call(rt, "keys()", 0, "string NAXIS,NCOMBINE", "caom2.keys with a prefix");
	cause = fail1(rt, "write_header()");
	ok(cause != NULL && strstr(cause, "ctx.header is read-only") != NULL &&
	    strstr(cause, " in write_header()") != NULL, "ctx.header is read-only: %s",
	    cause != NULL ? cause : "");
	free(cause);
	is_call(rt, "keep()", 0, "int 1", "a script may keep ctx.header in a global");
	cause = fail1(rt, "use_kept()");
	ok(cause != NULL && strstr(cause, "a header of a file mapped before") != NULL,
	    "but not use it for the next file: %s", cause != NULL ? cause : "");
	free(cause);
	lua_rt_free(rt);
}

static const char limits[] =
	"function spin() while true do end end\n"
	"function spin_pcall() while true do pcall(function() while true do end end) end end\n"
	"function bomb() local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(64) .. i end end\n"
	"function rep() return ('x'):rep(1e9) end\n"
	"function io_open() return io.open('/etc/passwd') end\n"
	"function os_execute() return os.execute('true') end\n"
	"function os_getenv() return os.getenv('HOME') end\n"
	"function os_time() return math.type(os.time()) end\n"
	"function req() return require('os') end\n"
	"function do_file() return dofile('/etc/passwd') end\n"
	"function load_file() return loadfile('/etc/passwd') end\n"
	"function dump() return string.dump(spin) end\n"
	"function dump_method() return ('x').dump(spin) end\n"
	"function load_binary() return select(2, load('\\27Lua\\84\\0junk')) end\n"
	"function load_mode_b() return load('return 1', 'x', 'b') end\n"
	"function load_text() return load('return 6 * 7')() end\n"
	"function dbg() return debug.getinfo(1) end\n"
	"function pkg() return package.path end\n"
	"function gc_stop() return collectgarbage('stop') end\n"
	"function helper() error('bad value') end\n"
	"function raise() helper() end\n"
	"function raise_table() error({}) end\n"
	"counter = 0\n"
	"function count() counter = counter + 1; return counter end\n"
	"function fine() return 'still here' end\n"
	"function deep() return 1 + deep() end\n"
	"function cdeep() local t = setmetatable({}, {__index = function(t, k) return t[k] end})\n"
	"  return t.x end\n";

static void
test_limits(void)
{
	struct lua_rt_limits lim = { 8 << 20, 2000000 };
	struct lua_rt *rt = rt_with("lim.lua", limits, &lim);
	struct timespec t0, t1;
	char *cause;
	double secs;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	cause = fail1(rt, "spin()");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ok(cause != NULL && strncmp(cause, "lim.lua:1: instruction budget of 2000000 exceeded in "
	    "spin()\nstack traceback:", 71) == 0, "an endless loop fails its call: %s",
	    cause != NULL ? cause : "");
	diag("the budget of 2,000,000 instructions ran out after %.3f s", secs);
	free(cause);
	is_call(rt, "fine()", 0, "string still here", "... and the next call works");
	cause = fail1(rt, "spin_pcall()");
	ok(cause != NULL && strstr(cause, "instruction budget of 2000000 exceeded in spin_pcall()")
	    != NULL, "pcall does not escape the budget");
	free(cause);
	is_call(rt, "count()", 0, "int 1", "globals live on between calls");
	cause = fail1(rt, "bomb()");
	is_string("lim.lua: memory limit of 8 MB exceeded in bomb()", cause,
	    "a memory bomb fails its call");
	free(cause);
	is_call(rt, "count()", 0, "int 1", "... and the state is made anew (globals reset)");
	cause = fail1(rt, "rep()");
	is_string("lim.lua: memory limit of 8 MB exceeded in rep()", cause,
	    "so does one huge string");
	free(cause);
	is_call(rt, "fine()", 0, "string still here", "... and the next call works");

#define DENIED(fn, what) do { \
	cause = fail1(rt, fn); \
	ok(cause != NULL && strstr(cause, what " is not available in collection scripts") != NULL, \
	    "%s: %s", fn, cause != NULL ? cause : "(no error)"); \
	free(cause); \
} while (0)
	DENIED("io_open()", "io.open");
	DENIED("os_execute()", "os.execute");
	DENIED("os_getenv()", "os.getenv");
	DENIED("req()", "require");
	DENIED("do_file()", "dofile");
	DENIED("load_file()", "loadfile");
	DENIED("dump()", "string.dump");
	DENIED("dump_method()", "string.dump");
	DENIED("dbg()", "debug.getinfo");
	DENIED("pkg()", "package.path");
	is_call(rt, "os_time()", 0, "string integer", "os.time is there");
	is_call(rt, "load_binary()", 0, "string attempt to load a binary chunk (mode is 't')",
	    "load refuses bytecode");
	cause = fail1(rt, "load_mode_b()");
	ok(cause != NULL && strstr(cause, "load: only text chunks are allowed (mode \"t\"), not "
	    "mode \"b\"") != NULL, "load with mode b is refused: %s", cause != NULL ? cause : "");
	free(cause);
	is_call(rt, "load_text()", 0, "int 42", "load of text works");
	cause = fail1(rt, "gc_stop()");
	ok(cause != NULL && strstr(cause, "collectgarbage(\"stop\") is not available") != NULL,
	    "collectgarbage('stop') is refused");
	free(cause);
	cause = fail1(rt, "raise()");
	ok(cause != NULL && strncmp(cause, "lim.lua:20: bad value in raise()\nstack traceback:\n",
	    50) == 0 && strstr(cause, "\tlim.lua:20: in ") != NULL && strstr(cause, "'helper'") !=
	    NULL && strstr(cause, "\tlim.lua:21: in ") != NULL && strstr(cause, "[C]: in ?") ==
	    NULL, "error() fails its call with a traceback");
	diag("%s", cause != NULL ? cause : "");
	free(cause);
	cause = fail1(rt, "raise_table()");
	ok(cause != NULL && strncmp(cause, "(error object is a table value) in raise_table()", 48)
	    == 0, "an error object that is not a string");
	free(cause);
	cause = fail1(rt, "deep()");
	ok(cause != NULL && (strstr(cause, "stack overflow") != NULL ||
	    strstr(cause, "memory limit") != NULL), "endless recursion fails its call: %.60s",
	    cause != NULL ? cause : "");
	free(cause);
	cause = fail1(rt, "cdeep()");
	ok(cause != NULL && strstr(cause, "stack overflow") != NULL,
	    "endless recursion through __index fails its call: %.60s", cause != NULL ? cause : "");
	free(cause);
	is_call(rt, "fine()", 0, "string still here", "the state is fine after all that");
	lua_rt_free(rt);
}

/* ---- visitors ---- */

static char *
visit1(const char *script, struct caom_observation *obs)
{
	struct lua_rt *rt = lua_rt_new(NULL);
	struct fits_file *f = dump(cards);
	struct lua_rt_input in = { f, "cadc:TEST/x.fits", "x.fits", NULL };
	struct lua_rt_session *s;
	char *cause = NULL;

	if (lua_rt_load_text(rt, LUA_RT_VISITOR, "v.lua", script, strlen(script), &cause) == 0 &&
	    (s = lua_rt_begin(rt, &in, &cause)) != NULL) {
		lua_rt_visit(s, obs, &cause);
		lua_rt_end(s);
	}
	fits_file_free(f);
	lua_rt_free(rt);
	return cause;
}

static const char visitor[] =
	"function visit(obs, ctx)\n"
	"  assert(obs.collection == 'TEST' and obs.observationID == 'o1')\n"
	"  assert(obs.kind == 'SimpleObservation')\n"
	"  obs.intent = 'science'\n"
	"  obs.sequenceNumber = 12\n"
	"  obs.metaRelease = '2020-01-02T03:04:05.678'\n"
	"  assert(obs.metaRelease == '2020-01-02T03:04:05.678')\n"
	"  obs.telescope = {name = 'DAO 1.2-m', geoLocationX = 1.5, keywords = {'b', 'a'}}\n"
	"  obs.telescope.geoLocationY = caom2.geocentric(48.5, -123.4, 225)\n"
	"  obs.target = {name = 'M31', type = 'object'}\n"
	"  obs.algorithm.name = 'exposure'\n"
	"  local p = obs.planes:add('p1')\n"
	"  assert(obs.planes:add('p1') == p and #obs.planes == 1 and obs.planes.p1 == p)\n"
	"  p.dataProductType = 'spectrum'\n"
	"  p.calibrationLevel = 1\n"
	"  p.provenance = {name = 'DAO', inputs = {'caom:DAO/f1/f1', 'caom:DAO/f2/f2'}}\n"
	"  p.provenance.inputs:add('caom:DAO/f0/f0')\n"
	"  assert(#p.provenance.inputs == 3 and p.provenance.inputs[1] == 'caom:DAO/f0/f0')\n"
	"  p.time = {bounds = {lower = 1, upper = 2, samples = {{lower = 1, upper = 2}}},\n"
	"    exposure = 30}\n"
	"  p.time.bounds.samples:add{lower = 1.5, upper = 1.75}\n"
	"  assert(#p.time.bounds.samples == 2 and p.time.bounds.samples[2].upper == 1.75)\n"
	"  p.position = {bounds = {center = {cval1 = 10, cval2 = 20}, radius = 0.5}}\n"
	"  local a = p.artifacts:add('cadc:TEST/x.fits', 'science', 'data')\n"
	"  local part = a.parts:add('0')\n"
	"  local c = part.chunks:add()\n"
	"  c.naxis = 2\n"
	"  c.position = {coordsys = 'ICRS', axis = {axis1 = {ctype = 'RA---TAN'},\n"
	"    axis2 = {ctype = 'DEC--TAN'}}}\n"
	"  c.position.axis.function_ = nil\n"
	"end\n";

static void
test_visitor(void)
{
	struct caom_observation *obs = caom_observation_new(CAOM_OBS_SIMPLE, "TEST", "o1");
	struct caom_plane *p;
	char *cause;
	char *script = xstrdup(visitor);

	/* "function_" is no attribute: the first run must fail there, after the rest. */
	cause = visit1(script, obs);
	ok(cause != NULL && strncmp(cause, "v.lua:30: Chunk.position.axis: no attribute "
	    "'function_' (CoordAxis2D has axis1, axis2, error1, error2, range, bounds, function) "
	    "in visit()\nstack traceback:\n", 137) == 0 && strstr(cause, "\tv.lua:30: in ") !=
	    NULL, "an unknown attribute is refused, naming the ones there are: %s",
	    cause != NULL ? cause : "");
	free(cause);
	is_string("science", obs->intent, "obs.intent set");
	is_int(12, obs->sequence_number, "obs.sequenceNumber set");
	ok(obs->telescope != NULL && strcmp(obs->telescope->name, "DAO 1.2-m") == 0 &&
	    obs->telescope->geo_location_x == 1.5 && obs->telescope->has_geo_location_y &&
	    obs->telescope->keywords.n == 2 && strcmp(obs->telescope->keywords.v[0], "a") == 0,
	    "a value object built from a table");
	p = obs->nplanes == 1 ? obs->planes[0] : NULL;
	ok(p != NULL && strcmp(p->data_product_type, "spectrum") == 0 &&
	    p->calibration_level == 1 && p->provenance != NULL && p->provenance->inputs.n == 3,
	    "a plane added with its attributes");
	ok(p != NULL && p->time != NULL && p->time->bounds != NULL &&
	    p->time->bounds->nsamples == 2 && p->time->bounds->samples[1].upper == 1.75 &&
	    p->time->has_exposure && p->time->exposure == 30, "time bounds with samples");
	ok(p != NULL && p->position != NULL && p->position->bounds_circle != NULL &&
	    p->position->bounds_polygon == NULL && p->position->bounds_circle->radius == 0.5,
	    "Position.bounds: a table with center and radius is a Circle");
	ok(p != NULL && p->nartifacts == 1 && strcmp(p->artifacts[0]->product_type, "science") ==
	    0 && p->artifacts[0]->nparts == 1 && p->artifacts[0]->parts[0]->nchunks == 1 &&
	    p->artifacts[0]->parts[0]->chunks[0]->position != NULL &&
	    strcmp(p->artifacts[0]->parts[0]->chunks[0]->position->axis.axis2.ctype, "DEC--TAN") ==
	    0, "artifact, part, chunk and its SpatialWCS");
	free(script);
	caom_observation_free(obs);
}

struct refusal {
	const char	*lua;
	const char	*message;
};

static const struct refusal refusals[] = {
	{ "obs.intent = 'sciense'", "Observation.intent: 'sciense' is not one of science, "
	    "calibration" },
	{ "obs.intent = 3", "Observation.intent: expected a string, got number" },
	{ "obs.collection = nil", "Observation.collection is required (it cannot be nil)" },
	{ "obs.sequenceNumber = 1.5", "Observation.sequenceNumber: expected an integer, got "
	    "1.5" },
	{ "obs.sequenceNumber = '1'", "Observation.sequenceNumber: expected an integer, got "
	    "string" },
	{ "obs.sequenceNumber = 2^40", "Observation.sequenceNumber: 1099511627776 is out of the "
	    "32-bit range" },
	{ "obs.metaRelease = 'yesterday'", "Observation.metaRelease: 'yesterday' is not a date "
	    "(yyyy-MM-dd[THH:mm:ss[.SSS]])" },
	{ "obs.members:add('caom:X/y')", "Observation.members: only a DerivedObservation has "
	    "members (set obs.kind = 'DerivedObservation' first)" },
	{ "obs.kind = 'Composite'", "Observation.kind: 'Composite' is not one of "
	    "SimpleObservation, DerivedObservation" },
	{ "obs.planes = {}", "Observation.planes: use planes:add(...) and planes:remove(...)" },
	{ "obs.planes:add('p').calibrationLevel = 7", "Plane.calibrationLevel: 7 is not one of "
	    "-1..4" },
	{ "obs.planes:add('p').dataProductType = 'picture'", "Plane.dataProductType: 'picture' "
	    "is not one of image, cube, eventlist, spectrum, timeseries, visibility, measurements, "
	    "catalog, event, sed (or a vocabulary URI with '#')" },
	{ "obs.planes:add('p').energy = {energyBands = {'Optical', 'Blue'}}", "Plane.energy.energyBands: "
	    "'Blue' is not one of Radio, Millimeter, Infrared, Optical, UV, EUV, X-ray, Gamma-ray" },
	{ "obs.planes:add('p').artifacts:add('u')", "Artifact: a new Artifact needs productType "
	    "(add(uri, ...))" },
	{ "obs.planes:add('p').artifacts:add('u', 'science', 'dta')", "Artifact.releaseType: "
	    "'dta' is not one of data, meta" },
	{ "obs.telescope = {geoLocationX = 1}", "Observation.telescope: a Telescope needs name" },
	{ "obs.telescope = {name = 'x', nme = 1}", "Observation.telescope: no attribute 'nme' "
	    "(Telescope has name, geoLocationX, geoLocationY, geoLocationZ, keywords)" },
	{ "obs.target = 'M31'", "Observation.target: expected a table (or a Target), got string" },
	{ "local c = obs.planes:add('p').artifacts:add('u', 'science', 'data').parts:add('0')"
	    ".chunks:add(); c.energy = {specsys = 'TOPOCENT'}", "Chunk.energy: a SpectralWCS needs "
	    "axis" },
	{ "obs.planes:add('p').position = {bounds = {}}", "Plane.position.bounds: give the "
	    "attributes of a Circle or of a Polygon" },
	{ "obs.environment = {photometric = 1}", "Observation.environment.photometric: expected "
	    "a boolean, got number" },
	{ "obs.algorithm = nil", "Observation.algorithm is required (it cannot be nil)" },
	{ "local x = obs.nosuch", "Observation: no attribute 'nosuch' (Observation has "
	    "collection, observationID, metaRelease, metaReadGroups, sequenceNumber, algorithm, "
	    "type, intent, proposal, target, targetPosition, requirements, telescope, instrument, "
	    "environment, planes, members, metaProducer, kind)" },
};

static void
test_refusals(void)
{
	struct caom_observation *obs;
	size_t i;
	char *lua, *cause;

	for (i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
		obs = caom_observation_new(CAOM_OBS_SIMPLE, "TEST", "o1");
		lua = xasprintf("function visit(obs, ctx)\n  %s\nend\n", refusals[i].lua);
		cause = visit1(lua, obs);
		ok(cause != NULL && strncmp(cause, "v.lua:2: ", 9) == 0 &&
		    strncmp(cause + 9, refusals[i].message, strlen(refusals[i].message)) == 0 &&
		    strncmp(cause + 9 + strlen(refusals[i].message), " in visit()", 11) == 0,
		    "refused: %s", refusals[i].lua);
		if (cause == NULL || strstr(cause, refusals[i].message) == NULL)
			diag("got: %s", cause != NULL ? cause : "(no error)");
		free(cause);
		free(lua);
		caom_observation_free(obs);
	}
}

static const char derive[] =
	"function visit(obs, ctx)\n"
	"  local p = obs.planes:add('p1')\n"
	"  p.provenance = {name = 'x'}\n"
	"  local n = caom2.add_inputs(p, ctx.header, 'FLAT_', function(v)\n"
	"    return caom2.plane_uri('DAO', v, v) end)\n"
	"  assert(n == 2)\n"
	"  caom2.to_derived(obs)\n"
	"  caom2.members_from_inputs(obs)\n"
	"  obs.planes:add('gone')\n"
	"  local g = obs.planes.gone\n"
	"  g.dataProductType = 'image'\n"
	"  assert(obs.planes:remove('gone') == true and obs.planes:remove('gone') == false)\n"
	"  g.dataProductType = 'cube'\n"
	"  assert(#obs.planes == 1)\n"
	"  kept = p\n"
	"  local c = p.artifacts:add{uri = 'u', productType = 'science', releaseType = 'data'}\n"
	"    .parts:add('0').chunks:add{naxis = 1}\n"
	"  c.energy = {specsys = 'TOPOCENT', axis = {axis = {ctype = 'WAVE', cunit = 'm'},\n"
	"    ['function'] = {naxis = 10, delta = 1e-9, refCoord = {pix = 1, val = 4e-7}}}}\n"
	"  local e = c.energy\n"
	"  local other = p.artifacts.u.parts['0'].chunks:add()\n"
	"  other.energy = e\n"
	"  other.energy.axis['function'].delta = 2e-9\n"
	"  c.energy = nil\n"
	"  assert(e.specsys == 'TOPOCENT')\n"
	"  local n = 0\n"
	"  for k, v in pairs(other.energy.axis['function']) do n = n + 1 end\n"
	"  assert(n == 3, n)\n"
	"end\n";

static void
test_derive_and_remove(void)
{
	struct caom_observation *obs = caom_observation_new(CAOM_OBS_SIMPLE, "DAO", "o1");
	struct caom_part *part;
	char *cause = visit1(derive, obs);

	ok(cause == NULL, "a visitor builds provenance, derives, removes, copies: %s",
	    cause != NULL ? cause : "ok");
	free(cause);
	ok(obs->kind == CAOM_OBS_DERIVED && strcmp(obs->algorithm.name, "composite") == 0,
	    "caom2.to_derived: a DerivedObservation with algorithm composite");
	ok(obs->members.n == 2 && strcmp(obs->members.v[0], "caom:DAO/dao_c122_2016_000001") == 0,
	    "caom2.members_from_inputs: the inputs' observations");
	ok(obs->nplanes == 1 && obs->planes[0]->provenance->inputs.n == 2 &&
	    strcmp(obs->planes[0]->provenance->inputs.v[1],
	    "caom:DAO/dao_c122_2016_000002/dao_c122_2016_000002") == 0,
	    "caom2.add_inputs: plane URIs from the FLAT_n values");
	part = obs->nplanes == 1 && obs->planes[0]->nartifacts == 1 ?
	    obs->planes[0]->artifacts[0]->parts[0] : NULL;
	ok(part != NULL && part->nchunks == 2 && part->chunks[0]->energy == NULL &&
	    part->chunks[1]->energy != NULL &&
	    part->chunks[1]->energy->axis.function->delta == 2e-9 &&
	    strcmp(part->chunks[1]->energy->axis.axis.cunit, "m") == 0,
	    "a SpectralWCS copied from another chunk, then the first one removed");
	caom_observation_free(obs);
}

/* The examples of caom2ingest-lua(5). */
static const char man_example[] =
	"function visit(obs, ctx)\n"
	"  local chunk = obs.planes:add('p'):artifacts():add('u', 'science', 'data')\n"
	"end\n";
static const char man_example2[] =
	"function visit(obs, ctx)\n"
	"  local chunk = obs.planes:add('p').artifacts:add('u', 'science', 'data')"
	".parts:add('0').chunks:add()\n"
	"  chunk.energy = {specsys = 'TOPOCENT', axis = {axis = {ctype = 'WAVE'}}}\n"
	"  chunk.energyAxis = 1\n"
	"  chunk.position = {coordsys = 'ICRS', equinox = 2000.0,\n"
	"    axis = {axis1 = {ctype = 'RA---TAN', cunit = 'deg'},\n"
	"            axis2 = {ctype = 'DEC--TAN', cunit = 'deg'},\n"
	"            ['function'] = {dimension = {naxis1 = 1, naxis2 = 1},\n"
	"              refCoord = {coord1 = {pix = 1, val = 210.5},\n"
	"                          coord2 = {pix = 1, val = 54.3}},\n"
	"              cd11 = -0.001388, cd12 = 0, cd21 = 0, cd22 = 0.001388}}}\n"
	"  local other = obs.planes.p.artifacts.u.parts['0'].chunks:add()\n"
	"  other.energy = chunk.energy\n"
	"  for _, plane in ipairs(obs.planes) do\n"
	"    if ctx.header.OBSTYPE ~= 'object' then\n"
	"      plane.energy = nil\n"
	"      for _, a in ipairs(plane.artifacts) do\n"
	"        for _, p in ipairs(a.parts) do\n"
	"          for _, c in ipairs(p.chunks) do\n"
	"            c.energy = nil\n"
	"            c.energyAxis = nil\n"
	"          end\n"
	"        end\n"
	"      end\n"
	"    end\n"
	"  end\n"
	"end\n";

static void
test_man_examples(void)
{
	struct caom_observation *obs = caom_observation_new(CAOM_OBS_SIMPLE, "T", "o");
	struct caom_chunk *c;
	char *cause = visit1(man_example2, obs);

	ok(cause == NULL, "the visitor of caom2ingest-lua(5) runs: %s", cause != NULL ? cause : "");
	free(cause);
	c = obs->nplanes == 1 ? obs->planes[0]->artifacts[0]->parts[0]->chunks[0] : NULL;
	ok(c != NULL && c->position != NULL && c->position->axis.function != NULL &&
	    c->position->axis.function->ref_coord.coord2.val == 54.3 &&
	    c->position->axis.function->cd11 == -0.001388 && c->position->has_equinox,
	    "its chunk.position table builds the SpatialWCS");
	ok(c != NULL && c->energy == NULL && !c->has_energy_axis &&
	    obs->planes[0]->artifacts[0]->parts[0]->chunks[1]->energy == NULL,
	    "and the energy of the non-object file is removed");
	caom_observation_free(obs);
	obs = caom_observation_new(CAOM_OBS_SIMPLE, "T", "o");
	cause = visit1(man_example, obs);
	ok(cause != NULL, "calling a collection is an error");
	free(cause);
	caom_observation_free(obs);
}

static void
test_dead_proxy(void)
{
	struct caom_observation *obs = caom_observation_new(CAOM_OBS_SIMPLE, "T", "o");
	struct lua_rt *rt = lua_rt_new(NULL);
	struct lua_rt_input in = { NULL, NULL, NULL, NULL };
	struct lua_rt_session *s;
	const char *v = "function visit(obs, ctx)\n  if kept then kept.intent = 'science' end\n"
	    "  kept = obs\nend\n";
	char *cause = NULL;

	lua_rt_load_text(rt, LUA_RT_VISITOR, "keep.lua", v, strlen(v), &cause);
	s = lua_rt_begin(rt, &in, &cause);
	ok(s != NULL && lua_rt_visit(s, obs, &cause) == 0, "a visitor keeps obs in a global");
	ok(lua_rt_visit(s, obs, &cause) == -1 && cause != NULL && strstr(cause, "Observation: "
	    "from a visit that has ended (obs and what it holds are valid during visit() only)") !=
	    NULL, "using it in the next visit is refused: %s", cause != NULL ? cause : "");
	ok(obs->intent == NULL, "... and changes nothing");
	free(cause);
	lua_rt_end(s);
	lua_rt_free(rt);
	caom_observation_free(obs);
}

static void
test_model_memory(void)
{
	struct caom_observation *obs = caom_observation_new(CAOM_OBS_SIMPLE, "T", "o");
	struct lua_rt_limits lim = { 4 << 20, 0 };
	struct lua_rt *rt = lua_rt_new(&lim);
	struct lua_rt_input in = { NULL, NULL, NULL, NULL };
	struct lua_rt_session *s;
	const char *v = "function visit(obs, ctx)\n  for i = 1, 1e9 do obs.planes:add('p' .. i) end\n"
	    "end\n";
	char *cause = NULL;

	lua_rt_load_text(rt, LUA_RT_VISITOR, "planes.lua", v, strlen(v), &cause);
	s = lua_rt_begin(rt, &in, &cause);
	ok(s != NULL && lua_rt_visit(s, obs, &cause) == -1, "a visitor adding planes forever fails");
	is_string("planes.lua: memory limit of 4 MB exceeded in visit()", cause,
	    "... at the memory limit (the model counts)");
	diag("%zu planes were added", obs->nplanes);
	free(cause);
	lua_rt_end(s);
	lua_rt_free(rt);
	caom_observation_free(obs);
}

static void
test_check_enum(void)
{
	char *cause = NULL;

	is_int(0, lua_rt_check_enum("Plane.dataProductType", "spectrum", &cause),
	    "check_enum: spectrum is a data product type");
	is_int(0, lua_rt_check_enum("Chunk.productType", "http://x.org/v#thing", &cause),
	    "check_enum: a vocabulary URI for an open vocabulary");
	is_int(0, lua_rt_check_enum("Plane.provenance.name", "anything", &cause),
	    "check_enum: no enumeration, no check");
	is_int(-1, lua_rt_check_enum("Observation.target.type", "planet", &cause),
	    "check_enum: a target type planet is refused");
	is_string("Observation.target.type: 'planet' is not one of object, field", cause,
	    "... saying so");
	free(cause);
	cause = NULL;
	is_int(-1, lua_rt_check_enum("Artifact.releaseType", "dat", &cause),
	    "check_enum: releaseType dat is refused");
	free(cause);
}

/* ---- tables ---- */

static char *
write_file(const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *fp = fopen(path, "w");

	if (fp == NULL || fputs(text, fp) == EOF || fclose(fp) != 0)
		bail("cannot write %s", path);
	return path;
}

static void
test_tables(void)
{
	const char *fn = "function w(ctx) local r = ctx.lookup('filters', 'V')\n"
	    "  return r.wavelength * 1 + r.bandpass end\n"
	    "function two(ctx) return ctx.lookup('filters', 'R', 2).note end\n"
	    "function num(ctx) return ctx.lookup('filters', 'B', 1).wavelength end\n"
	    "function missing(ctx) return ctx.lookup('filters', 'Z') end\n"
	    "function yml(ctx) return ctx.lookup('scopes', 'dao12', 'geo')[2] end\n"
	    "function yml_num(ctx) return ctx.lookup('scopes', 2016) end\n"
	    "function yml_obj(ctx) local t = ctx.lookup('scopes', 'dao12')\n"
	    "  return t.name .. ' ' .. tostring(t.spectro) end\n"
	    "function nosuch(ctx) return ctx.lookup('nosuch', 1) end\n";
	struct lua_rt *rt = rt_with("t.lua", fn, NULL);
	char *csv = write_file("filters.csv", "filter,order,wavelength,bandpass,note\n"
	    "B,1,4400,900,\"blue, wide\"\r\nV,1,5500,880,\nR,1,6400,1500,first\nR,2,6400,1500,"
	    "\"second \"\"R\"\"\"\n");
	char *yml = write_file("scopes.yml", "dao12:\n  name: DAO 1.2-m\n  spectro: true\n"
	    "  geo: [48.52, -123.42, 225]\n2016: leap\n");
	char *bad = write_file("bad.csv", "a,b\n1,2\n3\n");
	char *badyml = write_file("bad.yml", "a: [1, 2\n");
	char *list = write_file("list.yml", "- 1\n- 2\n");
	char *cause = NULL;

	ok(lua_rt_table(rt, "filters", csv, &cause) == 0, "a CSV table loads");
	ok(lua_rt_table(rt, "scopes", yml, &cause) == 0, "a YAML table loads");
	is_call(rt, "w()", 0, "int 6380", "ctx.lookup(NAME, key): the row, numbers typed");
	is_call(rt, "two()", 0, "string second \"R\"", "two keys match the first two columns");
	is_call(rt, "num()", 0, "int 4400", "a number key matches a number column");
	is_call(rt, "missing()", 0, "nil", "no row: nil");
	is_call(rt, "yml()", 0, "float -123.42", "YAML: nested keys, a sequence");
	is_call(rt, "yml_num()", 0, "string leap", "a number key finds a YAML key");
	is_call(rt, "yml_obj()", 0, "string DAO 1.2-m true", "a mapping comes back as a table");
	cause = fail1(rt, "nosuch()");
	ok(cause != NULL && strstr(cause, "ctx.lookup: no table named nosuch") != NULL,
	    "an unknown table is an error");
	free(cause);
	cause = NULL;
	ok(lua_rt_table(rt, "filters", csv, &cause) == -1, "a table name is used once");
	free(cause);
	cause = NULL;
	ok(lua_rt_table(rt, "bad", bad, &cause) == -1 && cause != NULL &&
	    strstr(cause, "bad.csv:3: 1 fields where the first row names 2") != NULL,
	    "a short CSV row: FILE:LINE: %s", cause != NULL ? cause : "");
	free(cause);
	cause = NULL;
	ok(lua_rt_table(rt, "bad", badyml, &cause) == -1 && cause != NULL &&
	    strstr(cause, "bad.yml:") != NULL, "bad YAML: %s", cause != NULL ? cause : "");
	free(cause);
	cause = NULL;
	ok(lua_rt_table(rt, "bad", list, &cause) == -1 && cause != NULL &&
	    strstr(cause, "a lookup table is a mapping") != NULL, "a YAML list is no table");
	free(cause);
	free(csv);
	free(yml);
	free(bad);
	free(badyml);
	free(list);
	lua_rt_free(rt);
}

/* ---- threads ---- */

struct worker {
	struct lua_rt	*rt;
	int		 id;
	int		 good;
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct fits_file *f = dump(cards);
	struct lua_rt_input in = { f, "u", "x.fits", NULL };
	struct lua_rt_session *s;
	struct lua_rt_value v;
	char *cause = NULL;
	int i;

	for (i = 0; i < 200; i++) {
		if ((s = lua_rt_begin(w->rt, &in, &cause)) == NULL)
			break;
		if (lua_rt_call(s, w->id, 0, &v, &cause) == 0 && v.type == LUA_RT_INT &&
		    v.i == i + 1)
			w->good++;
		lua_rt_value_clear(&v);
		lua_rt_end(s);
	}
	free(cause);
	fits_file_free(f);
	lua_rt_thread_cleanup();
	return NULL;
}

static void
test_threads(void)
{
	struct lua_rt *rt = rt_with("c.lua", "n = 0\nfunction c() n = n + 1; return n end\n",
	    NULL);
	struct worker w[4];
	pthread_t t[4];
	char *cause = NULL;
	int i, id = lua_rt_bind(rt, "c()", &cause), all = 1;

	for (i = 0; i < 4; i++) {
		w[i].rt = rt;
		w[i].id = id;
		w[i].good = 0;
		pthread_create(&t[i], NULL, worker_run, &w[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		all &= w[i].good == 200;
	}
	ok(all, "4 threads, each with its own state (its own counter up to 200)");
	lua_rt_free(rt);
}

int
main(void)
{
	plan_lazy();
	if (mkdtemp(dir) == NULL)
		bail("mkdtemp");
	test_load_errors();
	test_bind_and_ctx();
	test_limits();
	test_visitor();
	test_refusals();
	test_derive_and_remove();
	test_dead_proxy();
	test_man_examples();
	test_model_memory();
	test_check_enum();
	test_tables();
	test_threads();
	lua_rt_thread_cleanup();
	{
		char *cmd = xasprintf("rm -rf %s", dir);

		if (system(cmd) != 0)
			diag("cannot remove %s", dir);
		free(cmd);
	}
	return 0;
}
