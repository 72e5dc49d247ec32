# Fake mpp.payload_struct: the payload types the audio examples use (the
# values of the K230 MPP's k_payload_type).
K_PT_G711A = 19
K_PT_G711U = 20
