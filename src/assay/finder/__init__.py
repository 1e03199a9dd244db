"""The evidence finder's rules, free of any database: the evidence record schema as CloudTrail
Lake names it (``schema``) and the checking, rights rewriting and transpiling of queries
(``query``). ``service/finder.py`` runs them."""
