import json,urllib.request,urllib.parse,sys
port=sys.argv[1]; stage=sys.argv[2] if len(sys.argv)>2 else ""
ids=[];after=None
while True:
    u="http://127.0.0.1:%s/v1/leads?limit=1000&stage=%s"%(port,stage)+("&after="+urllib.parse.quote(after) if after else "")
    d=json.load(urllib.request.urlopen(u)); ids+= [(l["id"],l["stage"]) for l in d["leads"]]
    after=d["next"]
    if not after: break
from collections import Counter
print(len(ids), len(set(ids)), Counter(s for _,s in ids))
