"""`make cost`: what an environment costs a month on AWS, from its synthesized template, a usage profile and a
price table (both JSON files beside this module, versioned with the code)."""
