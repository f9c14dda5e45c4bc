-- The validators (ETags) of list pages a backfill stored: the next run of the same list asks for
-- each page with If-None-Match, and a page the tool answers 304 Not Modified is skipped with all
-- its objects (their events are stored already). `next_url` is the page that followed it (none:
-- it ended the list), as a 304 need not repeat the Link header.
CREATE TABLE backfill_pages (
    list     TEXT NOT NULL,
    url      TEXT NOT NULL,
    etag     TEXT NOT NULL,
    next_url TEXT,
    PRIMARY KEY (list, url)
);
