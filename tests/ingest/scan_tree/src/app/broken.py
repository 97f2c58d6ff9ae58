def oops(:
    AutoModel.from_pretrained("acme/never-read")
