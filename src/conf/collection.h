/*
 * collection.h - a configured collection's naming rules as the daemon
 * applies them, for whoever classifies files by them (caom2ingest map
 * --collection): the rule set of its rules, each rule's mapping being its
 * blueprint template or, for a legacy triple, the spec artifact_blueprint
 * reads (artifact_legacy_spec).
 */
#ifndef CAOM2INGEST_COLLECTION_H
#define CAOM2INGEST_COLLECTION_H

struct conf_collection;
struct rules;

/* The rule set of c (its include/exclude globs and rules); NULL with *cause. */
struct rules *collection_rules(const struct conf_collection *c, char **cause);

#endif
